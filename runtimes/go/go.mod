module hearth.dev/runtimes/go

go 1.26
