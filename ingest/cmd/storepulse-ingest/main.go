// Command storepulse-ingest is the StorePulse ingest service. It only reads
// the configuration and wires the app; see package ingest/app.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/storepulse/storepulse/ingest/app"
	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
	"github.com/storepulse/storepulse/internal/clock"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "hash-token":
			return hashToken(stdin, stdout, stderr)
		case "healthcheck":
			return healthcheck(stderr)
		}
	}
	fs := pflag.NewFlagSet("storepulse-ingest", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(fs, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "storepulse-ingest: invalid configuration:\n%v\n", err)
		return 2
	}
	log := newLogger(cfg.Log, stderr)
	now, err := clock.FromEnv(os.Getenv)
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 2
	}
	if v := os.Getenv(clock.Env); v != "" {
		log.Warn("the clock is shifted for testing; never run production like this", "env", clock.Env, "start", v)
	}
	a, err := app.New(cfg, log, now)
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

// hashToken prints the SHA-256 of the token read from stdin: the form
// auth.tokens[].sha256 takes, so the token itself is never in a config file.
func hashToken(stdin io.Reader, stdout, stderr io.Writer) int {
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
	if err != nil {
		fmt.Fprintf(stderr, "hash-token: %v\n", err)
		return 1
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		fmt.Fprintf(stderr, "hash-token: pipe the token on stdin, e.g. `printf %%s \"$TOKEN\" | storepulse-ingest hash-token`\n")
		return 2
	}
	fmt.Fprintln(stdout, auth.Hash(tok))
	return 0
}

// healthcheck asks the local service's /healthz, for container health checks
// in images without curl.
func healthcheck(stderr io.Writer) int {
	addr := os.Getenv("STOREPULSE_LISTEN")
	if addr == "" {
		addr = ":8080"
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz") // #nosec G704 -- our own listen address from the environment
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
