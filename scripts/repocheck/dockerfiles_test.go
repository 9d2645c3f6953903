// Package repocheck checks repository files against each other: the
// Dockerfiles' base images against go.mod.
package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDockerfilesPinGoOfGoMod: every Go build stage uses the exact Go
// version go.mod asks for (a floating golang:1.26 image may be an older
// patch, and its GOTOOLCHAIN=local refuses to build), and no base image
// floats on a major.minor tag.
func TestDockerfilesPinGoOfGoMod(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	gm := regexp.MustCompile(`(?m)^go (\d+\.\d+\.\d+)$`).FindSubmatch(b)
	require.NotNil(t, gm, "go.mod names a Go patch version")
	want := string(gm[1])
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`)
	golang := regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)-`)
	for _, df := range []string{"ingest/Dockerfile", "datasource/Dockerfile"} {
		src, err := os.ReadFile(filepath.Join(root, df)) // #nosec G304 -- repository files
		require.NoError(t, err)
		for _, m := range from.FindAllStringSubmatch(string(src), -1) {
			img := m[1]
			if g := golang.FindStringSubmatch(img); g != nil {
				require.Equal(t, want, g[1], "%s: %s must be go.mod's Go %s", df, img, want)
			}
			require.NotRegexp(t, `^[a-z0-9./-]+:\d+(\.\d+)?(-[a-z]+)*$`, img, "%s: %s floats on a major.minor tag", df, img)
		}
	}
}
