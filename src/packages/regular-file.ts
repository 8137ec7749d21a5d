// Reads a package file named by a path (code.package.path, layers[].path),
// refusing at once what is not a regular file. A FIFO would block the read
// forever (and with it a start-up that waits for every function), a device
// such as /dev/zero would never end: the file is opened without blocking and
// its type checked on the open descriptor, so nothing can swap it in between.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileTypeName } from './entry-name.js';
import { PackageError } from './errors.js';

export async function readRegularFile(path: string, maxBytes: number, label = path): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new PackageError('unavailable', `${label} does not exist`);
    throw new PackageError('unavailable', `${label} cannot be read (${err.code ?? err.message})`);
  });
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new PackageError('special-file', `${label} is a directory, not a ZIP file`);
    if (!st.isFile()) throw new PackageError('special-file', `${label} is ${fileTypeName(st.mode)}, not a regular file`);
    if (st.size > maxBytes) throw new PackageError('zipped-too-large', `${label} is ${st.size} bytes; the limit is ${maxBytes} bytes zipped`);
    const bytes = await fh.readFile();
    // The file grew after the stat: the limit holds for what was read.
    if (bytes.length > maxBytes) throw new PackageError('zipped-too-large', `${label} is larger than the limit of ${maxBytes} bytes zipped`);
    return bytes;
  } finally {
    await fh.close();
  }
}
