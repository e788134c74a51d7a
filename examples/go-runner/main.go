// Command go-runner is a tiny tool runner gated by gait: it reads tool calls (one JSON object per line, MCP shape
// {"name": ..., "args": {...}}) from stdin and runs each registered tool only when the gate answers allow. Every
// other outcome, including the gate being unreachable, is reported and the tool does not run.
//
//	GAIT_SOCKET=unix:///path/to/gate.sock go run . < calls.jsonl
//
// Output: one JSON line per call {"name","executed","verdict","reason_codes","result"}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	gait "github.com/gait-gate/gait-gate/clients/go"
)

type toolCall struct {
	Name string         `json:"name"`
	Args map[string]any `json:"args"`
}

type result struct {
	Name        string   `json:"name"`
	Executed    bool     `json:"executed"`
	Verdict     string   `json:"verdict"`
	ReasonCodes []string `json:"reason_codes"`
	Result      string   `json:"result,omitempty"`
}

// tools are the runner's implementations; the gate decides which may run.
var tools = map[string]func(args map[string]any) (string, error){
	"tool.read": func(a map[string]any) (string, error) { return fmt.Sprintf("<contents of %v>", a["path"]), nil },
	"tool.exec": func(a map[string]any) (string, error) { return fmt.Sprintf("ran %v", a["command"]), nil },
}

func main() {
	// GAIT_SOCKET, else the per-user default socket; fails closed. A one-shot runner's first call also opens the
	// connection, so it gets 2 s instead of the 250 ms default (a long-lived agent keeps one client and the default).
	client, err := gait.New(gait.WithTimeout(2 * time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-runner:", err)
		os.Exit(2)
	}
	defer client.Close()
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		line := in.Bytes()
		if len(line) == 0 {
			continue
		}
		var tc toolCall
		if err := json.Unmarshal(line, &tc); err != nil {
			fmt.Fprintln(os.Stderr, "go-runner: skipping a line that is not a tool call:", err)
			continue
		}
		call := gait.Call{Adapter: "mcp", ToolCall: json.RawMessage(append([]byte(nil), line...))}
		value, d, err := gait.Guard(ctx, client, call, func(context.Context, gait.Decision) (string, error) {
			impl, ok := tools[tc.Name]
			if !ok {
				return "", fmt.Errorf("no tool named %s", tc.Name)
			}
			return impl(tc.Args)
		})
		r := result{Name: tc.Name, Verdict: d.Verdict, ReasonCodes: d.ReasonCodes}
		switch {
		case errors.Is(err, gait.ErrNotAllowed):
			r.Result = "not run"
		case err != nil:
			r.Executed, r.Result = true, "tool error: "+err.Error()
		default:
			r.Executed, r.Result = true, value
		}
		_ = out.Encode(r)
	}
}
