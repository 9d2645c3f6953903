package deliver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/digest/briefing"
)

func shanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return loc
}

func TestSchedule(t *testing.T) {
	sh := shanghai(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		expr, from, want string
	}{
		{"30 7 * * *", "2026-05-20 07:00", "2026-05-20 07:30"},
		{"30 7 * * *", "2026-05-20 07:30", "2026-05-21 07:30"},
		{"0 8 * * 1-5", "2026-05-22 09:00", "2026-05-25 08:00"}, // Friday → Monday
		{"0 8 * * 0,6", "2026-05-20 09:00", "2026-05-23 08:00"},
		{"*/15 * * * *", "2026-05-20 07:01", "2026-05-20 07:15"},
		{"0 9 1 * *", "2026-05-20 07:00", "2026-06-01 09:00"},
		{"0 7 * * 7", "2026-05-20 07:00", "2026-05-24 07:00"}, // 7 is Sunday
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr, sh)
		require.NoError(t, err)
		require.Equal(t, at(tt.want), s.Next(at(tt.from)), tt.expr)
	}
	for _, bad := range []string{"30 7 * *", "60 7 * * *", "30 24 * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"} {
		_, err := ParseSchedule(bad, sh)
		require.Error(t, err, bad)
	}
}

func TestWebhookRetries(t *testing.T) {
	var mu sync.Mutex
	var answers []int
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		code := answers[0]
		answers = answers[1:]
		w.WriteHeader(code)
		if code == 200 && strings.Contains(string(b), "wecom-bad") {
			_, _ = w.Write([]byte(`{"errcode":93000,"errmsg":"invalid webhook url"}`))
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	w := &Webhook{Client: &http.Client{Timeout: 5 * time.Second}, Attempts: 3, Backoff: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	url := srv.URL + "/hook/secret-key"
	tests := []struct {
		name    string
		answers []int
		body    string
		tries   int
		errMsg  string
	}{
		{"ok", []int{200}, `{}`, 1, ""},
		{"retried", []int{503, 429, 200}, `{}`, 3, ""},
		{"gives up", []int{500, 502, 503}, `{}`, 3, "3 attempts failed, the last: webhook: HTTP 503"},
		{"refused", []int{400}, `{}`, 1, "HTTP 400"},
		{"errcode", []int{200}, `{"wecom-bad":1}`, 1, "errcode 93000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			answers, bodies, waits = tt.answers, nil, nil
			mu.Unlock()
			err := w.Post(context.Background(), url, []byte(tt.body))
			require.Len(t, bodies, tt.tries)
			if tt.errMsg == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.errMsg)
				require.NotContains(t, err.Error(), "secret-key")
			}
			if tt.tries > 1 {
				require.Equal(t, []time.Duration{time.Second, 2 * time.Second}[:tt.tries-1], waits)
			}
		})
	}
	// A network error is retried too, and its message has no URL.
	srv.Close()
	err := w.Post(context.Background(), url, []byte(`{}`))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-key")
}

// fakeSMTP is a small SMTP server for the tests: EHLO (with STARTTLS when
// it has a certificate), STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
type fakeSMTP struct {
	ln   net.Listener
	cert *tls.Certificate
	mu   sync.Mutex
	msgs []string
	rcpt []string
	tls  bool
	auth string
}

func startSMTP(t *testing.T, cert *tls.Certificate) *fakeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &fakeSMTP{ln: ln, cert: cert}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *fakeSMTP) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(l string) { _, _ = w.WriteString(l + "\r\n"); _ = w.Flush() }
	say("220 fake ESMTP")
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if s.cert != nil && !secure {
				say("250-fake")
				say("250-STARTTLS")
			} else {
				say("250-fake")
			}
			say("250 AUTH PLAIN")
		case cmd == "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.cert}, MinVersion: tls.VersionTLS12})
			if tc.Handshake() != nil {
				return
			}
			c, secure = tc, true
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
			s.mu.Lock()
			s.tls = true
			s.mu.Unlock()
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			s.mu.Lock()
			s.auth = strings.TrimSpace(line[len("AUTH PLAIN"):])
			s.mu.Unlock()
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO"):
			s.mu.Lock()
			s.rcpt = append(s.rcpt, strings.TrimSpace(line[len("RCPT TO:"):]))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 send")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSMTP(t *testing.T) {
	cert, pool := selfSigned(t)
	now := time.Date(2026, 5, 20, 7, 30, 0, 0, shanghai(t))
	m := Mail{To: []string{"a@example.com", "b@example.com"}, Subject: "Briefing 2026-05-19: 3 changes", Text: "plain", HTML: []byte("<p>ü</p>")}

	t.Run("starttls", func(t *testing.T) {
		srv := startSMTP(t, cert)
		s := &SMTP{Host: "127.0.0.1", Port: srv.port(), Username: "bot", Password: "pw", From: "briefing@example.com",
			TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second}
		require.NoError(t, s.Send(context.Background(), m, now))
		srv.mu.Lock()
		defer srv.mu.Unlock()
		require.True(t, srv.tls)
		require.NotEmpty(t, srv.auth)
		require.Equal(t, []string{"<a@example.com>", "<b@example.com>"}, srv.rcpt)
		require.Len(t, srv.msgs, 1)
		msg := srv.msgs[0]
		require.Contains(t, msg, "Subject: Briefing 2026-05-19: 3 changes")
		require.Contains(t, msg, "Content-Type: text/html; charset=utf-8")
		require.Contains(t, msg, "<p>=C3=BC</p>")
		require.Contains(t, msg, "Date: Wed, 20 May 2026 07:30:00 +0800")
	})
	t.Run("no starttls refused", func(t *testing.T) {
		srv := startSMTP(t, nil)
		s := &SMTP{Host: "127.0.0.1", Port: srv.port(), From: "briefing@example.com", Timeout: 5 * time.Second}
		require.ErrorContains(t, s.Send(context.Background(), m, now), "does not offer STARTTLS")
		require.Empty(t, srv.msgs)
		s.Insecure = true
		require.NoError(t, s.Send(context.Background(), m, now))
	})
	t.Run("timeout", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
		require.NoError(t, err)
		defer ln.Close()
		s := &SMTP{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: "x@example.com", Timeout: 300 * time.Millisecond}
		start := time.Now()
		require.Error(t, s.Send(context.Background(), m, now))
		require.Less(t, time.Since(start), 5*time.Second)
	})
}

type fakeBuilder struct{ err error }

func (f fakeBuilder) Build(_ context.Context, date, store string) (*briefing.Briefing, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &briefing.Briefing{Business: "Shop", Store: store, Date: "2026-05-19", Weekday: "Tuesday", TimeZone: "Asia/Shanghai",
		Currency: "CNY", NothingUnusual: true, Changes: []briefing.Change{}}, nil
}

// A failed channel is logged, its payload kept, the error returned; the
// other channels are still served.
func TestServiceDeliver(t *testing.T) {
	srv := startSMTP(t, nil)
	var posted []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		posted = append(posted, string(b))
	}))
	defer hook.Close()
	var logs strings.Builder
	dir := t.TempDir()
	sched, err := ParseSchedule("30 7 * * *", shanghai(t))
	require.NoError(t, err)
	s := &Service{Builder: fakeBuilder{}, SMTP: &SMTP{Host: "127.0.0.1", Port: srv.port(), From: "b@example.com", Insecure: true, Timeout: 5 * time.Second},
		Webhook: &Webhook{Client: &http.Client{Timeout: 5 * time.Second}, Attempts: 1}, FailedDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return time.Date(2026, 5, 19, 23, 30, 0, 0, time.UTC) }}
	archive := t.TempDir()
	l := List{Name: "directors", Schedule: sched, Email: []string{"d@example.com"}, Dir: archive,
		Webhooks: []Target{{URL: hook.URL + "/good", Format: "wecom"}, {URL: hook.URL + "/bad", Format: "slack"}}}
	err = s.Deliver(context.Background(), l)
	require.ErrorContains(t, err, "webhook 2 (slack)")
	require.Len(t, srv.msgs, 1)
	require.Contains(t, srv.msgs[0], "Subject: Shop briefing 2026-05-19: nothing unusual")
	require.Len(t, posted, 1)
	require.Contains(t, posted[0], `"msgtype": "markdown"`)
	kept, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, "20260519T233000Z-directors-webhook_2_slack_.slack.json", kept[0].Name())
	require.Contains(t, logs.String(), "level=ERROR")
	require.NotContains(t, logs.String(), "/bad") // webhook URLs are secrets
	files, err := os.ReadDir(archive)
	require.NoError(t, err)
	require.Len(t, files, 3)
	require.Equal(t, "briefing-2026-05-19.html", files[0].Name())

	err = (&Service{Builder: fakeBuilder{err: errors.New("influx down")}, Logger: s.Logger, Now: s.Now}).Deliver(context.Background(), l)
	require.ErrorContains(t, err, "influx down")
}

// langBuilder records the language each briefing was built in.
type langBuilder struct {
	fakeBuilder
	langs *[]string
}

func (l langBuilder) BuildIn(ctx context.Context, date, store, language string) (*briefing.Briefing, error) {
	*l.langs = append(*l.langs, language)
	br, err := l.Build(ctx, date, store)
	if err == nil {
		br.Language = language
	}
	return br, err
}

// A list's language reaches the builder; a list without one gets the
// builder's default (Build).
func TestServiceLanguage(t *testing.T) {
	var langs []string
	dir := t.TempDir()
	s := &Service{Builder: langBuilder{langs: &langs}, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	require.NoError(t, s.Deliver(context.Background(), List{Name: "zh", Language: "zh-CN", Dir: dir}))
	require.NoError(t, s.Deliver(context.Background(), List{Name: "default", Dir: dir}))
	require.Equal(t, []string{"zh-CN"}, langs)
	md, err := os.ReadFile(filepath.Join(dir, "briefing-2026-05-19.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "Tuesday") // the second delivery (default language) overwrote the first
}
