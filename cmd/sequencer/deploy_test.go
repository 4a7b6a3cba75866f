package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests keep deploy/ honest where neither docker nor systemd can run:
// the files must build this package, start it with flags it knows, and keep
// the properties docs/operations.md promises.

// unitFile is a systemd unit: section -> key -> values, in file order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: want key=value on one line inside a section, got %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unitFile) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// checkRunFlags fails unless args (after the binary) are `run` and flags
// that `sequencer run` accepts, each value-taking flag followed by a value.
func checkRunFlags(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 || args[0] != "run" {
		t.Errorf("%s: runs %q, want the run command", where, args)
		return
	}
	known := map[string]bool{}
	for _, f := range helpFlags(context.Background(), []string{"run"}) {
		known[f.name] = f.value
	}
	for i := 1; i < len(args); i++ {
		name, _, inline := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		takesValue, ok := known[name]
		if !strings.HasPrefix(args[i], "-") || !ok {
			t.Errorf("%s: %q is not a flag of sequencer run", where, args[i])
			continue
		}
		if takesValue && !inline {
			i++
			if i == len(args) {
				t.Errorf("%s: --%s lacks its value", where, name)
			}
		}
	}
}

func TestTheSystemdUnitRestartsOnFailureIsHardenedAndStartsTheDaemonWithFlagsItKnows(t *testing.T) {
	u := parseUnit(t, "../../deploy/sequencer.service")
	for _, kv := range [][3]string{
		{"Service", "Restart", "on-failure"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "PrivateDevices", "yes"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "RestrictSUIDSGID", "yes"},
		{"Service", "StateDirectory", "sequencer"},
		{"Service", "KillSignal", "SIGTERM"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if _, ok := u[kv[0]][kv[1]]; !ok || u.get(kv[0], kv[1]) != kv[2] {
			t.Errorf("[%s] %s=%q, want %q", kv[0], kv[1], u.get(kv[0], kv[1]), kv[2])
		}
	}
	if u.get("Unit", "Description") == "" {
		t.Error("[Unit] has no Description")
	}
	if user := u.get("Service", "User"); user == "" || user == "root" || user == "0" {
		t.Errorf("[Service] User=%q, want an unprivileged user", user)
	}
	exec := strings.Fields(u.get("Service", "ExecStart"))
	if len(exec) == 0 || exec[0] != "/usr/local/bin/sequencer" {
		t.Fatalf("ExecStart=%q, want /usr/local/bin/sequencer run ...", exec)
	}
	checkRunFlags(t, "ExecStart", exec[1:])
	// ProtectSystem=strict leaves only the state directory writable: the
	// database must live there.
	if i := slices.Index(exec, "--data"); i < 0 || i+1 == len(exec) || exec[i+1] != "/var/lib/sequencer" {
		t.Errorf("ExecStart %q: want --data /var/lib/sequencer (StateDirectory)", exec)
	}
}

// dockerInstr is one Dockerfile instruction with its continuation lines
// joined.
type dockerInstr struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

func TestTheDockerfileBuildsThisPackageStaticallyAndRunsItAsNonRootWithADataVolume(t *testing.T) {
	instrs := parseDockerfile(t, "../../deploy/Dockerfile")
	var last int // index of the final stage's FROM
	for i, in := range instrs {
		if in.cmd == "FROM" {
			last = i
		}
	}

	// The builder's Go is the one go.mod asks for.
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !slices.ContainsFunc(instrs[:last], func(in dockerInstr) bool {
		return in.cmd == "FROM" && strings.HasPrefix(in.args, "golang:"+string(goLine[1])+" ")
	}) {
		t.Errorf("no build stage FROM golang:%s (go.mod's go directive)", goLine[1])
	}

	// The build compiles this very directory, statically.
	build := regexp.MustCompile(`go build .*-o (\S+) (\S+)$`)
	var binary string
	for _, in := range instrs[:last] {
		m := build.FindStringSubmatch(in.args)
		if in.cmd != "RUN" || m == nil {
			continue
		}
		if !strings.Contains(in.args, "CGO_ENABLED=0") {
			t.Errorf("RUN %s: want CGO_ENABLED=0 for a static binary", in.args)
		}
		here, _ := os.Getwd()
		if built, _ := filepath.Abs(filepath.Join("../..", m[2])); built != here {
			t.Errorf("the image builds %s, want this package (%s)", m[2], here)
		}
		binary = m[1]
	}
	if binary == "" {
		t.Fatal("no RUN ... go build -o OUT PACKAGE in a build stage")
	}

	final := instrs[last:]
	var user, entry, installed string
	var volumes, cmd []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "VOLUME":
			if err := json.Unmarshal([]byte(in.args), &volumes); err != nil {
				volumes = strings.Fields(in.args)
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) >= 2 && f[len(f)-2] == binary {
				installed = f[len(f)-1]
			}
		case "ENTRYPOINT":
			var e []string
			if err := json.Unmarshal([]byte(in.args), &e); err != nil || len(e) != 1 {
				t.Errorf("ENTRYPOINT %s: want the exec form naming the binary alone", in.args)
			} else {
				entry = e[0]
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in.args), &cmd); err != nil {
				t.Errorf("CMD %s: want the exec form: %v", in.args, err)
			}
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("the final stage runs as %q, want a non-root USER", user)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %q, want /data", volumes)
	}
	if installed == "" || entry != installed {
		t.Errorf("ENTRYPOINT %q, want the binary built at %s and copied to %q", entry, binary, installed)
	}
	checkRunFlags(t, "CMD", cmd)
	if i := slices.Index(cmd, "--data"); i < 0 || i+1 == len(cmd) || cmd[i+1] != "/data" {
		t.Errorf("CMD %q: want --data /data (the volume)", cmd)
	}
}
