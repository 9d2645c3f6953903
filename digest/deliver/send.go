package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// SMTP is an outgoing mail server.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// Insecure allows a server without STARTTLS (a local relay); by default
	// a server that does not offer STARTTLS is refused.
	Insecure bool
	// TLS overrides the TLS configuration (tests: a private CA).
	TLS *tls.Config
	// Timeout bounds the whole exchange with the server.
	Timeout time.Duration
}

// Mail is one e-mail with a plain-text and an HTML part.
type Mail struct {
	To      []string
	Subject string
	Text    string
	HTML    []byte
}

// Send delivers m through the server: STARTTLS (required unless Insecure),
// AUTH PLAIN when a username is set, then one transaction for every
// recipient. The whole exchange is bounded by Timeout.
func (s *SMTP) Send(ctx context.Context, m Mail, now time.Time) error {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	d := net.Dialer{Timeout: s.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	deadline := time.Now().Add(s.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close() //nolint:errcheck,gosec // the deadline error is reported
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close() //nolint:errcheck,gosec // the greeting error is reported
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close() //nolint:errcheck // after QUIT or an error already reported
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", addr, err)
		}
	} else if !s.Insecure {
		return fmt.Errorf("smtp %s: the server does not offer STARTTLS (set smtp.insecure for a local relay without TLS)", addr)
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("smtp %s: authentication as %s: %w", addr, s.Username, err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", addr, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", addr, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	msg, err := s.message(m, now)
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: message refused: %w", addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("smtp %s: QUIT: %w", addr, err)
	}
	return nil
}

// message is the MIME message: multipart/alternative, text then HTML, both
// quoted-printable UTF-8.
func (s *SMTP) message(m Mail, now time.Time) ([]byte, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	boundary := "sp-" + hex.EncodeToString(rnd[:])
	domain := "storepulse.local"
	if a, err := mail.ParseAddress(s.From); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.From)
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+base64.RawURLEncoding.EncodeToString(rnd[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	part := func(ctype string, body []byte) error {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ctype)
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write(body); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
		b.WriteString("\r\n")
		return nil
	}
	if err := part("text/plain", []byte(m.Text)); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	if err := part("text/html", m.HTML); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// Webhook posts JSON payloads with retries.
type Webhook struct {
	Client *http.Client // its Timeout bounds every attempt
	// Attempts is how often a payload is tried (at least 1); Backoff the
	// wait before the second attempt, doubled for each further one.
	Attempts int
	Backoff  time.Duration
	// Sleep waits between attempts (tests inject one); nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// PermanentError is a refusal that retrying cannot fix (a 4xx other than
// 408 and 429).
type PermanentError struct{ Status int }

func (e *PermanentError) Error() string {
	return "the webhook refused the payload with HTTP " + strconv.Itoa(e.Status)
}

// Post sends payload to url: network errors, 408, 429 and 5xx are retried,
// other answers are final. The URL is never part of an error (webhook URLs
// carry their secret).
func (w *Webhook) Post(ctx context.Context, url string, payload []byte) error {
	attempts := max(w.Attempts, 1)
	wait := w.Backoff
	var last error
	for i := range attempts {
		if i > 0 {
			if err := w.sleep(ctx, wait); err != nil {
				return fmt.Errorf("webhook: %w (after %d attempts: %w)", err, i, last)
			}
			wait *= 2
		}
		last = w.post(ctx, url, payload)
		var perm *PermanentError
		if last == nil || errors.As(last, &perm) {
			return last
		}
	}
	return fmt.Errorf("webhook: %d attempts failed, the last: %w", attempts, last)
}

func (w *Webhook) sleep(ctx context.Context, d time.Duration) error {
	if w.Sleep != nil {
		return w.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (w *Webhook) post(ctx context.Context, url string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return &PermanentError{Status: 0}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := w.Client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // *url.Error carries the URL: keep its cause only
		}
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// WeCom and DingTalk answer 200 with an error code in the body.
		var ans struct {
			ErrCode *int   `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if json.Unmarshal(body, &ans) == nil && ans.ErrCode != nil && *ans.ErrCode != 0 {
			return fmt.Errorf("webhook: refused with errcode %d (%s): %w", *ans.ErrCode, ans.ErrMsg, &PermanentError{Status: resp.StatusCode})
		}
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("webhook: HTTP %d", resp.StatusCode)
	}
	return &PermanentError{Status: resp.StatusCode}
}
