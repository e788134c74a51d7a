package gait_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	gait "github.com/gait-gate/gait-gate/clients/go"
)

// Test harness: cases.yaml, the fake server (test/conformance/clients/fake-server.mjs, run with node) and the real
// server (bin/gait mcp serve with the fixed conformance policy). A real server that cannot start FAILS the tests.

var (
	repoRoot      = mustAbs("../..")
	conformance   = filepath.Join(repoRoot, "test", "conformance", "clients")
	fakeServerBin = filepath.Join(conformance, "fake-server.mjs")
)

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

type caseWant struct {
	Verdict            string   `yaml:"verdict"`
	FailClosed         bool     `yaml:"fail_closed"`
	ReasonCodes        []string `yaml:"reason_codes"`
	ReasonCodesInclude []string `yaml:"reason_codes_include"`
	ErrorReason        *string  `yaml:"error_reason"`
	Executed           bool     `yaml:"executed"`
}

type caseCall struct {
	Intent   map[string]any `yaml:"intent"`
	ToolCall *struct {
		Adapter string `yaml:"adapter"`
		Call    any    `yaml:"call"`
	} `yaml:"tool_call"`
	RunID     string `yaml:"run_id"`
	SessionID string `yaml:"session_id"`
}

type conformanceCase struct {
	Name        string    `yaml:"name"`
	Note        string    `yaml:"note"`
	Call        caseCall  `yaml:"call"`
	Fault       string    `yaml:"fault"`
	Fake        string    `yaml:"fake"`
	TCP         bool      `yaml:"tcp"`
	ServerToken *string   `yaml:"server_token"`
	Token       string    `yaml:"token"`
	Want        caseWant  `yaml:"want"`
	Then        string    `yaml:"then"`
	WantAfter   *caseWant `yaml:"want_after"`
}

func loadCases(t *testing.T) []conformanceCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance, "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int               `yaml:"version"`
		Cases   []conformanceCase `yaml:"cases"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Cases) == 0 {
		t.Fatalf("cases.yaml: want version 1 and cases")
	}
	return doc.Cases
}

// toCall is the YAML call as a gait.Call. Intents go through the typed gait.Intent (decoded strictly, so a YAML key
// the struct lacks fails the test), which is how Go callers write them; raw map intents have their own tests.
func (c caseCall) toCall(t *testing.T) gait.Call {
	t.Helper()
	call := gait.Call{RunID: c.RunID, SessionID: c.SessionID}
	if c.Intent != nil {
		raw, err := json.Marshal(c.Intent)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var typed gait.Intent
		if err := dec.Decode(&typed); err != nil {
			t.Fatalf("case intent as gait.Intent: %v", err)
		}
		call.Intent = typed
	}
	if c.ToolCall != nil {
		call.Adapter = c.ToolCall.Adapter
		call.ToolCall = c.ToolCall.Call
	}
	return call
}

// shortTempDir keeps socket paths under the 107-byte limit.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gait-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type fake struct {
	target string
	cmd    *exec.Cmd
}

func (f *fake) stop() {
	if f.cmd.ProcessState == nil {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
}

func startFake(t *testing.T, mode, dir string, tcp bool, token *string) *fake {
	t.Helper()
	listen := "unix://" + filepath.Join(dir, mode+".sock")
	if tcp {
		listen = "127.0.0.1:0"
	}
	args := []string{fakeServerBin, "--mode", mode, "--listen", listen}
	if token != nil {
		args = append(args, "--token", *token)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = repoRoot
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fake server: %v", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "READY ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("fake server (%s) did not start: %q %v %s", mode, line, err, stderr.String())
	}
	f := &fake{target: strings.TrimSpace(strings.TrimPrefix(line, "READY ")), cmd: cmd}
	if mode == "stale" {
		_ = cmd.Wait()
	}
	return f
}

type realServer struct {
	socket, operatorSocket, dir string
	cmd                         *exec.Cmd
	stderr                      *strings.Builder
}

var (
	serverOnce sync.Once
	server     *realServer
	serverErr  error
)

// sharedServer starts the real server once for the whole package; TestMain stops it.
func sharedServer(t *testing.T) *realServer {
	t.Helper()
	serverOnce.Do(func() { server, serverErr = startRealServer() })
	if serverErr != nil {
		t.Fatalf("real server: %v", serverErr)
	}
	return server
}

func startRealServer() (*realServer, error) {
	entry := filepath.Join(repoRoot, "dist", "src", "cli", "main.js")
	if _, err := os.Stat(entry); err != nil {
		return nil, fmt.Errorf("%s is missing: build the server first (make build)", entry)
	}
	dir, err := os.MkdirTemp("", "gait-gos-")
	if err != nil {
		return nil, err
	}
	s := &realServer{socket: filepath.Join(dir, "gate.sock"), operatorSocket: filepath.Join(dir, "op.sock"), dir: dir, stderr: &strings.Builder{}}
	s.cmd = exec.Command("node", filepath.Join(repoRoot, "bin", "gait"), "mcp", "serve",
		"--policy", filepath.Join(conformance, "policy.yaml"), "--listen", "unix://"+s.socket,
		"--operator-listen", "unix://"+s.operatorSocket, "--state", filepath.Join(dir, "state"), "--trace-dir", filepath.Join(dir, "traces"))
	s.cmd.Dir = dir
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	c, err := gait.New(gait.WithTarget("unix://"+s.socket), gait.WithTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("gait mcp serve exited before it was ready: %s", s.stderr.String())
		default:
		}
		if _, err := c.GetServerInfo(context.Background()); err == nil {
			break
		} else if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			return nil, fmt.Errorf("gait mcp serve did not answer within 20 s (%v): %s", err, s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s, nil
}

func TestMain(m *testing.M) {
	os.Unsetenv(gait.SocketEnv)
	code := m.Run()
	if server != nil {
		_ = server.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = server.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = server.cmd.Process.Kill()
		}
		os.RemoveAll(server.dir)
	}
	os.Exit(code)
}
