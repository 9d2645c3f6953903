package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/app"
	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "storepulse-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndTokenNeverLogged serves over TLS and checks that neither the API
// token nor the InfluxDB token ever appears in the service's log.
func TestTLSAndTokenNeverLogged(t *testing.T) {
	db := influxtest.Start(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	const apiToken = "api-secret-4f1c"
	t.Setenv("STOREPULSE_INFLUX_TOKEN", "influx-secret-9a2b")
	t.Setenv("STOREPULSE_TLS_CERT_FILE", certFile)
	t.Setenv("STOREPULSE_TLS_KEY_FILE", keyFile)
	t.Setenv("STOREPULSE_LISTEN", "127.0.0.1:0")
	t.Setenv("STOREPULSE_DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("STOREPULSE_INFLUX_URL", db.URL)
	t.Setenv("STOREPULSE_INFLUX_BUCKET", db.Bucket)
	t.Setenv(config.EnvTokens, "test="+auth.Hash(apiToken))
	t.Setenv("STOREPULSE_LOG_LEVEL", "debug")
	cfg, err := config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), os.Getenv)
	require.NoError(t, err)

	var logBuf strings.Builder
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(cfg, log, testclock.Clock())
	require.NoError(t, err)
	addr, err := a.Listen()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body := `{"type":"signup","id":"x1","time":"` + testclock.Now().Format(time.RFC3339) + `","store":"s1","user":"u1"}`
	for _, tok := range []string{apiToken, "wrong-" + apiToken} {
		req, err := http.NewRequest(http.MethodPost, "https://"+addr.String()+"/v1/events", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if tok == apiToken {
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
		} else {
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		}
	}
	if resp, err := http.Get("http://" + addr.String() + "/healthz"); err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP is not served when TLS is configured")
	}

	cancel()
	require.NoError(t, <-done)
	logs := logBuf.String()
	require.NotEmpty(t, logs)
	require.NotContains(t, logs, "api-secret")
	require.NotContains(t, logs, "influx-secret")
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRecordsStoreTimeZone: the ingest's timezone is the store's, written to
// InfluxDB at start (sp_meta, one series per ingester) for the datasource.
func TestRecordsStoreTimeZone(t *testing.T) {
	db := influxtest.Start(t)
	dir := t.TempDir()
	t.Setenv("STOREPULSE_LISTEN", "127.0.0.1:0")
	t.Setenv("STOREPULSE_DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("STOREPULSE_INFLUX_URL", db.URL)
	t.Setenv("STOREPULSE_INFLUX_BUCKET", db.Bucket)
	t.Setenv("STOREPULSE_TIMEZONE", "America/Sao_Paulo")
	t.Setenv("STOREPULSE_INGESTER", "ing-a")
	t.Setenv(config.EnvTokens, "test="+auth.Hash("tok"))
	cfg, err := config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), os.Getenv)
	require.NoError(t, err)
	a, err := app.New(cfg, slog.New(slog.DiscardHandler), testclock.Clock())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	flux := `from(bucket: "` + db.Bucket + `") |> range(start: 1970-01-01T00:00:00Z, stop: 2200-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "sp_meta" and r._field == "timezone")`
	want := "2100-01-01T00:00:00Z" // fixed: rewrites replace it, no retention drops it
	require.Eventually(t, func() bool {
		out, err := db.Query(context.Background(), flux)
		return err == nil && strings.Contains(out, "America/Sao_Paulo") && strings.Contains(out, "ing-a") && strings.Contains(out, want)
	}, 20*time.Second, 100*time.Millisecond)
}

// TestRefusesZonesOffTheHour: a store time zone whose offset is not a whole
// hour is refused at start-up, naming the setting and the reason.
func TestRefusesZonesOffTheHour(t *testing.T) {
	for _, z := range []string{"Asia/Kolkata", "Asia/Kathmandu"} {
		t.Run(z, func(t *testing.T) {
			t.Setenv("STOREPULSE_DATA_DIR", t.TempDir())
			t.Setenv("STOREPULSE_TIMEZONE", z)
			t.Setenv(config.EnvTokens, "test="+auth.Hash("tok"))
			_, err := config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), os.Getenv)
			require.ErrorContains(t, err, "timezone: time zone "+z)
			require.ErrorContains(t, err, "only zones whose offset is a whole number of hours")
		})
	}
}
