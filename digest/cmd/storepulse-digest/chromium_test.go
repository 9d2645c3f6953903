package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// probe is injected into a copy of the e-mail (never into the e-mail
// itself, which has no script): it pins the body to a width and reports how
// far right any element reaches.
const probe = `<style>body{width:%dpx !important;margin:0 !important}</style>
<script>window.addEventListener('load',function(){var m=0;document.querySelectorAll('body *').forEach(function(e){var r=e.getBoundingClientRect();if(r.width>0&&r.right>m){m=r.right}});document.body.setAttribute('data-right',Math.ceil(m))})</script>`

// TestHTMLInChromium renders the golden e-mail in headless Chromium
// (Debian's chromium package) at 1280 and 390 px and checks that nothing
// reaches beyond the width: no horizontal overflow.
func TestHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is needed: apt-get install chromium (%v)", err)
		}
		t.Skipf("chromium not installed: %v", err)
	}
	for _, golden := range []string{"briefing-2026-05-19.html", filepath.Join("zh-CN", "briefing-2026-05-19.html")} {
		htmlInChromium(t, bin, golden)
	}
}

func htmlInChromium(t *testing.T, bin, golden string) {
	t.Helper()
	html, err := os.ReadFile(filepath.Join("testdata", "golden", golden))
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(html)), "<script", "the e-mail must carry no JavaScript")
	for _, width := range []int{1280, 390} {
		t.Run(golden+"/"+strconv.Itoa(width), func(t *testing.T) {
			page := strings.Replace(string(html), "</body>", strings.Replace(probe, "%d", strconv.Itoa(width), 1)+"</body>", 1)
			path := filepath.Join(t.TempDir(), "page.html")
			require.NoError(t, os.WriteFile(path, []byte(page), 0o600))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", //nolint:gosec // a fixed binary and flags
				"--disable-background-networking", "--user-data-dir="+t.TempDir(), "--window-size="+strconv.Itoa(width)+",2000",
				"--virtual-time-budget=2000", "--dump-dom", "file://"+path)
			out, err := cmd.Output()
			require.NoError(t, err)
			m := regexp.MustCompile(`data-right="(\d+)"`).FindSubmatch(out)
			require.NotNil(t, m, "the probe did not run")
			right, err := strconv.Atoi(string(m[1]))
			require.NoError(t, err)
			require.LessOrEqual(t, right, width, "an element reaches %d px in a %d px wide window", right, width)
			require.Greater(t, right, width/2, "the layout does not use the width")
		})
	}
}
