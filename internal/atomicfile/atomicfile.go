// Package atomicfile replaces small state files so that a crash leaves
// either the old file or the new one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data so that a crash leaves either the old
// file or the new one, never a mix: a temporary file in the same directory,
// fsync, chmod to perm, rename, then an fsync of the directory so the rename
// itself is durable. The directory is created if missing.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the write error is reported
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the sync error is reported
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir) //nolint:gosec // a configured directory
	if err != nil {
		return err
	}
	defer d.Close() //nolint:errcheck // synced below
	return d.Sync()
}
