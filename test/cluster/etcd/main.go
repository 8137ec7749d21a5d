// etcd built from the version Kubernetes itself requires, so the pair is the tested one.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
