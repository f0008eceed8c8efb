"""One block-device layer for everything that reads or writes whole disks: the erasure, the OS
install and the disk benchmark.

- `buffers`: page-aligned buffers for O_DIRECT, and a comparison that releases the GIL;
- `device`: a device's path, size and logical sector size (`BlockDevice`), opening it O_DIRECT
  (and O_EXCL when writing), full read and write loops, and what a read-back found
  (`VerifyOutcome`);
- `sweep`: several requests in flight over one device, in order, with progress, the low-water
  mark a journal may record, cancellation and a disk that stops answering.
"""
