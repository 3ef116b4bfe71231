"""imgix-style transformations of public image URLs: parameters, rendering, caching, signing, routes."""
