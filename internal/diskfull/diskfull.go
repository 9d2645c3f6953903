// Package diskfull gives tests a small file system that fills up: a real
// tmpfs where the machine allows mounting one (root on Linux), else a
// simulated one whose capacity is enforced through a write hook of the code
// under test (spool.Options.WriteFault, dedup.Index.SetWriteFault).
package diskfull

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Disk is a small file system rooted at Dir.
type Disk struct {
	Dir  string
	Real bool // a mounted tmpfs; else simulated
	size int64

	mu     sync.Mutex
	filler string
}

// Variants runs fn twice: on a real tmpfs of size bytes ("tmpfs", which falls
// back to the simulation, logged, where mounting is not permitted) and on the
// simulated disk ("simulated"), which always runs.
func Variants(t *testing.T, size int64, fn func(t *testing.T, d *Disk)) {
	t.Run("tmpfs", func(t *testing.T) {
		d, err := Mount(t, size)
		if err != nil {
			t.Logf("tmpfs not available (%v): running on the simulated disk instead", err)
			d = Simulated(t, size)
		}
		fn(t, d)
	})
	t.Run("simulated", func(t *testing.T) { fn(t, Simulated(t, size)) })
}

// Mount mounts a tmpfs of size bytes on a fresh temp dir, unmounted at
// cleanup (after the cleanups registered later, e.g. closing files in it).
func Mount(t testing.TB, size int64) (*Disk, error) {
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, err
	}
	if err := mount(dir, size); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return &Disk{Dir: dir, Real: true, size: size}, nil
}

// Simulated returns a disk of size bytes in a temp dir: Fault enforces the
// capacity against the apparent size of every file under Dir.
func Simulated(t testing.TB, size int64) *Disk {
	return &Disk{Dir: t.TempDir(), size: size}
}

// Fault is the write hook to give the code under test: nil on a real disk
// (the kernel says ENOSPC), else it fails a write of n bytes with ENOSPC
// when it would take the files under Dir past the capacity.
func (d *Disk) Fault() func(path string, n int64) error {
	if d.Real {
		return nil
	}
	return func(path string, n int64) error {
		if used := d.used(); used+n > d.size {
			return &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
}

func (d *Disk) used() int64 {
	var total int64
	_ = filepath.WalkDir(d.Dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil //nolint:nilerr // a file removed during the walk takes no space
		}
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
		return nil
	})
	return total
}

// Fill takes every free byte with a filler file.
func (d *Disk) Fill(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	path := filepath.Join(d.Dir, fmt.Sprintf("filler-%d", len(d.filler)))
	d.filler = path
	if !d.Real {
		f, err := os.Create(path) //nolint:gosec // a test's own dir
		require.NoError(t, err)
		require.NoError(t, f.Truncate(max(d.size-d.used(), 0)))
		require.NoError(t, f.Close())
		return
	}
	f, err := os.Create(path) //nolint:gosec // a test's own dir
	require.NoError(t, err)
	defer f.Close()
	for chunk := 1 << 20; chunk >= 512; chunk /= 2 {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				require.True(t, errors.Is(err, syscall.ENOSPC), "filling: %v", err)
				break
			}
		}
	}
	_ = f.Sync()
}

// Free removes the filler: space returns.
func (d *Disk) Free(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.NoError(t, os.Remove(d.filler))
}

// Full reports whether err is a disk-full error.
func Full(err error) bool { return errors.Is(err, syscall.ENOSPC) }
