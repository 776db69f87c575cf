"""Per-image validation records and the intervals computed from them (a bootstrap over val images and seeds)."""
