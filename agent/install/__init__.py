"""Installing an OS image: where images come from, their block maps, and writing them to a disk."""
