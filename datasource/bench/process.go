package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/storepulse/storepulse/internal/clock"
)

// Querier sends a QueryData request to the plugin, as Grafana's server does.
type Querier interface {
	QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error)
}

// PluginProcess is the plugin's backend binary run the way Grafana runs it:
// its own process, started with the go-plugin handshake (magic cookie and
// protocol version in the environment), answering gRPC on the address it
// prints.
type PluginProcess struct {
	cmd  *exec.Cmd
	conn *grpc.ClientConn
	data pluginv2.DataClient
}

var _ Querier = (*PluginProcess)(nil)

// StartPlugin starts binary with its clock at now (STOREPULSE_NOW: the
// screen's now) and connects to it; its log goes to logw.
func StartPlugin(ctx context.Context, binary string, now time.Time, logw io.Writer) (*PluginProcess, error) {
	cmd := exec.Command(binary) // #nosec G204 -- the benchmark runs the plugin binary it was given
	cmd.Env = append(os.Environ(), clock.Env+"="+now.UTC().Format(time.RFC3339Nano),
		grpcplugin.MagicCookieKey+"="+grpcplugin.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS="+strconv.Itoa(grpcplugin.ProtocolVersion))
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("plugin: start %s: %w", binary, err)
	}
	p := &PluginProcess{cmd: cmd}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		lines <- l
		_, _ = io.Copy(io.Discard, r) // the plugin's stdout is relayed over gRPC after the handshake
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("plugin: no handshake from %s within 30s", binary)
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
	// core-version|app-version|network|address|protocol
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 5 || f[4] != "grpc" {
		p.Stop()
		return nil, fmt.Errorf("plugin: unexpected handshake %q from %s", line, binary)
	}
	target := f[3]
	if f[2] == "unix" {
		target = "unix://" + f[3]
	}
	p.conn, err = grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("plugin: dial %s: %w", target, err)
	}
	p.data = pluginv2.NewDataClient(p.conn)
	return p, nil
}

// QueryData implements Querier over the plugin's gRPC.
func (p *PluginProcess) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp, err := p.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

// PID is the plugin process id.
func (p *PluginProcess) PID() int { return p.cmd.Process.Pid }

// Stop closes the connection and kills the process (Grafana kills its
// plugins too).
func (p *PluginProcess) Stop() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// Memory is a process's resident set now and its peak (VmRSS, VmHWM).
func Memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, 0, err
			}
			rss = kb << 10
		case "VmHWM:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, 0, err
			}
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, peak, nil
}

// clockTick is the unit of /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPUTime is a process's user + system CPU time so far (pid 0: this process).
func CPUTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- /proc of a process of ours
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count fields after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unreadable %s", path)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unreadable %s", path)
	}
	// After ')': state is field 3, utime field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unreadable %s", path)
	}
	return time.Duration(ut+st) * clockTick, nil
}
