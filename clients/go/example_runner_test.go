package gait_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type runnerLine struct {
	Name        string   `json:"name"`
	Executed    bool     `json:"executed"`
	Verdict     string   `json:"verdict"`
	ReasonCodes []string `json:"reason_codes"`
	Result      string   `json:"result"`
}

func runGoRunner(t *testing.T, target string) []runnerLine {
	t.Helper()
	dir := filepath.Join(repoRoot, "examples", "go-runner")
	bin := filepath.Join(shortTempDir(t), "go-runner")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/go-runner: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GAIT_SOCKET="+target)
	cmd.Stdin = strings.NewReader(`{"name":"tool.read","args":{"path":"/workspace/README.md"}}` + "\n" +
		`{"name":"tool.exec","args":{"command":"rm -rf /"}}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go-runner: %v\n%s", err, stderr.String())
	}
	var lines []runnerLine
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r runnerLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		lines = append(lines, r)
	}
	return lines
}

func TestExampleGoRunnerAgainstRealServer(t *testing.T) {
	s := sharedServer(t)
	lines := runGoRunner(t, "unix://"+s.socket)
	if len(lines) != 2 {
		t.Fatalf("want 2 results, got %+v", lines)
	}
	if !lines[0].Executed || lines[0].Verdict != "allow" || lines[0].Result != "<contents of /workspace/README.md>" {
		t.Fatalf("read: %+v", lines[0])
	}
	if lines[1].Executed || lines[1].Verdict != "block" || lines[1].Result != "not run" {
		t.Fatalf("exec: %+v", lines[1])
	}
}

func TestExampleGoRunnerGateDownRunsNothing(t *testing.T) {
	lines := runGoRunner(t, "unix://"+filepath.Join(shortTempDir(t), "absent.sock"))
	for _, l := range lines {
		if l.Executed || l.Verdict != "block" || len(l.ReasonCodes) != 1 || l.ReasonCodes[0] != "fail_closed_unavailable" {
			t.Fatalf("gate down: %+v", l)
		}
	}
}
