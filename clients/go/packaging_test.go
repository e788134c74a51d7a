package gait_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Go client as a user gets it: a separate module that requires github.com/gait-gate/gait-gate/clients/go
// through its module path, with a replace pointing at a fresh clone of clients/go (tracked files only, copied
// outside the repository). There the README example builds and runs against the real server and against a missing
// socket, and a misspelt intent field does not compile.

const modulePath = "github.com/gait-gate/gait-gate/clients/go"

// freshCopy copies what a fresh clone has under rel (tracked files plus new files git does not ignore) to dest.
func freshCopy(t *testing.T, rel, dest string) string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	n := 0
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		src, err := os.Open(filepath.Join(repoRoot, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree: not in a clone of it
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dest, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(dest, f))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(dst, src)
		src.Close()
		dst.Close()
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("git lists no files under %s", rel)
	}
	return filepath.Join(dest, rel)
}

func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func readmeGoBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "clients", "go", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?ms)^```go\n(.*?)^```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no ```go block")
	}
	return string(m[1])
}

func TestModuleUsedThroughItsPathWithReplace(t *testing.T) {
	s := sharedServer(t)
	dir := shortTempDir(t)
	clone := freshCopy(t, "clients/go", filepath.Join(dir, "clone"))
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(filepath.Join(app, "misspelt"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/gaitapp\n\ngo 1.26.0\n",
		"main.go": readmeGoBlock(t),
		"misspelt/main.go": `package main

import gait "` + modulePath + `"

func main() {
	_ = gait.Intent{ToolNmae: "tool.read"}
	_ = gait.IntentContext{Identiy: "alice"}
	_ = gait.IntentTarget{Knd: gait.KindPath}
}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// the client's own go.sum seeds the app's, so tidy needs no checksum lookups for modules the client already pins
	sum, err := os.ReadFile(filepath.Join(clone, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"mod", "edit", "-require=" + modulePath + "@v0.0.0", "-replace=" + modulePath + "=" + clone},
		{"mod", "tidy"},
		{"build", "-o", "readme-example", "."},
	} {
		if out, err := goCmd(t, app, args...); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	run := func(target string) []string {
		cmd := exec.Command(filepath.Join(app, "readme-example"))
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "GAIT_SOCKET="+target)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("readme example: %v\n%s", err, stderr.String())
		}
		return strings.Split(strings.TrimSpace(stdout.String()), "\n")
	}
	lines := run("unix://" + s.socket)
	if len(lines) != 2 || lines[0] != "<contents of /workspace/README.md>" ||
		!regexp.MustCompile(`^block \[(.+, )?exec_blocked(, .+)?\] violations=\[exec_not_allowed\] trace=[0-9a-f]+$`).MatchString(lines[1]) {
		t.Fatalf("against the real server: %q", lines)
	}
	lines = run("unix://" + filepath.Join(dir, "absent.sock"))
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "not run: block (fail closed: unavailable) [fail_closed_unavailable]: ") ||
		!strings.HasPrefix(lines[1], "block (fail closed: unavailable) [fail_closed_unavailable]: ") {
		t.Fatalf("gate down: %q", lines)
	}

	out, err := goCmd(t, app, "build", "-o", os.DevNull, "./misspelt")
	if err == nil {
		t.Fatal("a misspelt intent field compiled")
	}
	for _, want := range []string{
		"unknown field ToolNmae in struct literal of type gait.Intent",
		"unknown field Identiy in struct literal of type gait.IntentContext",
		"unknown field Knd in struct literal of type gait.IntentTarget",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("compiler output lacks %q:\n%s", want, out)
		}
	}
}
