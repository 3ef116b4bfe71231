"""Posts and profile pictures that reference uploaded media, DFOS style: `/posts` and `/identity/current`."""
