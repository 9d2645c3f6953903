// Package makeenv tests scripts/make-env.sh (`make env`): the .env it writes
// for docker compose, on a Linux PATH and on PATHs like macOS's (no
// sha256sum) or with no SHA-256 tool at all.
package makeenv

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pathWith makes a directory of links to the named programs (those found)
// for use as the script's whole PATH.
func pathWith(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		require.NoError(t, os.Symlink(p, filepath.Join(dir, tool)))
	}
	return dir
}

var basics = []string{"bash", "env", "head", "base64", "tr", "cut", "sed", "grep", "mktemp", "chmod", "mv", "rm", "dirname", "cat"}

func run(t *testing.T, path, out string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "make-env.sh"), out) // #nosec G204 -- the script under test
	cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir()}
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func readEnv(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

func TestMakeEnv(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		ok    bool
	}{
		{"linux: sha256sum", []string{"sha256sum"}, true},
		{"macOS: shasum only", []string{"shasum", "perl"}, true},
		{"openssl only", []string{"openssl"}, true},
		{"no SHA-256 tool: fails loudly, writes nothing", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok && len(tc.extra) > 0 {
				if _, err := exec.LookPath(tc.extra[0]); err != nil {
					if os.Getenv("CI") != "" && tc.extra[0] == "sha256sum" {
						t.Fatalf("%s not found", tc.extra[0])
					}
					t.Skipf("%s is not installed here", tc.extra[0])
				}
			}
			out := filepath.Join(t.TempDir(), ".env")
			msg, err := run(t, pathWith(t, append(basics, tc.extra...)...), out)
			if !tc.ok {
				require.Error(t, err, msg)
				require.Contains(t, msg, "no SHA-256 tool found")
				require.NoFileExists(t, out)
				entries, _ := os.ReadDir(filepath.Dir(out))
				require.Empty(t, entries, "no temporary file left behind")
				return
			}
			require.NoError(t, err, msg)
			fi, err := os.Stat(out)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			env := readEnv(t, out)
			sum := sha256.Sum256([]byte(env["STOREPULSE_TOKEN"]))
			require.Equal(t, hex.EncodeToString(sum[:]), env["STOREPULSE_TOKEN_SHA256"])
			for k, v := range env {
				require.NotContains(t, v, "change-me", "%s keeps the example's value", k)
			}
			// 24 random bytes as 32 characters, every time (stripping base64's
			// "/+=" used to leave 27 to 32 of them, and this check failed now and then).
			require.Len(t, env["STOREPULSE_TOKEN"], 32)

			msg, err = run(t, pathWith(t, append(basics, tc.extra...)...), out)
			require.Error(t, err)
			require.Contains(t, msg, "exists; remove it to regenerate")
		})
	}
}
