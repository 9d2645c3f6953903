package repocheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInstallPluginHandsVolumeToGrafana runs the plugin image's command
// (datasource/install-plugin.sh) on a root-owned stand-in for the
// grafana-plugins volume that already holds an old build of the plugin and a
// plugin Grafana installed itself. Afterwards the volume and all of it belong
// to Grafana's user, and no file of the old build is left. As root (as in
// CI) the owner is Grafana's uid 472; otherwise the caller's own uid, which
// still proves the chown reaches every file.
func TestInstallPluginHandsVolumeToGrafana(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "datasource", "install-plugin.sh"))
	require.NoError(t, err)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "plugin")
	vol := filepath.Join(tmp, "plugins")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "img"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "plugin.json"), []byte(`{"id":"storepulse-kpi-datasource"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "img", "logo.svg"), []byte("<svg/>"), 0o644))
	old := filepath.Join(vol, "storepulse-kpi-datasource")
	require.NoError(t, os.MkdirAll(old, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(old, "stale.js"), []byte("old"), 0o644))
	other := filepath.Join(vol, "grafana-lokiexplore-app")
	require.NoError(t, os.MkdirAll(other, 0o755))
	require.NoError(t, os.Chmod(vol, 0o755))

	uid, gid := 472, 0
	if os.Geteuid() != 0 {
		uid, gid = os.Geteuid(), os.Getegid()
	}
	cmd := exec.Command("sh", script) // #nosec G204 -- the repository's script
	cmd.Env = append(os.Environ(), "PLUGIN_SRC="+src, "PLUGINS_DIR="+vol, "GRAFANA_UID="+strconv.Itoa(uid), "GRAFANA_GID="+strconv.Itoa(gid))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	require.NoFileExists(t, filepath.Join(old, "stale.js"), "a rebuilt plugin replaces the old one")
	require.FileExists(t, filepath.Join(old, "img", "logo.svg"))
	require.DirExists(t, other, "plugins Grafana installed stay")
	require.NoDirExists(t, old+".new")
	fi, err := os.Stat(vol)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o775), fi.Mode().Perm(), "the volume is group-writable for gid 0")
	require.NoError(t, filepath.Walk(vol, func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, uint32(uid), st.Uid, "%s belongs to Grafana's user", p)
		require.Equal(t, uint32(gid), st.Gid, "%s belongs to Grafana's group", p)
		return nil
	}))
}
