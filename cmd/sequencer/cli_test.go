package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sequencer-dev/sequencer/dnc"
)

func TestHelpOnCommandGroupsAndTheirSubcommandsPrintsUsageAndExitsZero(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"db", "-h"}, "sequencer db backup  --data DIR OUT"},
		{[]string{"db", "--help"}, "sequencer db check   --data DIR"},
		{[]string{"db", "backup", "-h"}, "usage: sequencer db backup [--data DIR] OUT"},
		{[]string{"db", "compact", "-h"}, "-out string"},
		{[]string{"db", "check", "-h"}, "usage: sequencer db check [--data DIR]"},
		{[]string{"db", "migrate", "-h"}, "usage: sequencer db migrate (--from DIR --to-etcd URL"},
		{[]string{"dnc", "-h"}, "sequencer dnc lists [NAME] [--format table|json]"},
		{[]string{"dnc", "help"}, "sequencer dnc add --phone P | --customer-id C"},
		{[]string{"completion", "-h"}, "usage: sequencer completion bash|zsh|fish"},
		{[]string{"version", "-h"}, "usage: sequencer version"},
	} {
		code, out, errs := runCmd(t, tc.args...)
		if code != 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestAnUnknownDbSubcommandIsAUsageErrorEvenWithoutADatabase(t *testing.T) {
	code, _, errs := runCmd(t, "db", "frobnicate", "--data", t.TempDir())
	if code != 2 || !strings.Contains(errs, `unknown subcommand "frobnicate"`) || !strings.Contains(errs, "sequencer db backup") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCmd(t, "db", "check", "--data", t.TempDir(), "extra")
	if code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("check with an argument: exit %d, stderr %q", code, errs)
	}
}

func TestEveryClientCommandsUsageNamesItsArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-h"}, "usage: sequencer status [NAME] [--format table|json] [--watch 2s]"},
		{[]string{"history", "-h"}, "usage: sequencer history NAME "},
		{[]string{"suspend", "-h"}, "usage: sequencer suspend NAME [--for DURATION] [--reason R]"},
		{[]string{"resume", "-h"}, "usage: sequencer resume NAME"},
		{[]string{"reconcile", "-h"}, "usage: sequencer reconcile NAME"},
		{[]string{"dnc", "add", "-h"}, "usage: sequencer dnc add --phone P | --customer-id C [--target-app N]"},
		{[]string{"dnc", "lists", "-h"}, "usage: sequencer dnc lists [NAME] [--format table|json]"},
		{[]string{"cancel-record", "-h"}, "usage: sequencer cancel-record --phone P [--customer-id C] [--campaign NAME]"},
		{[]string{"halt", "-h"}, "usage: sequencer halt --reason R "},
		{[]string{"unhalt", "-h"}, "usage: sequencer unhalt [--server URL]"},
	} {
		code, _, errs := runCmd(t, tc.args...)
		if code != 0 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "[--server URL] [--token-file F]") || !strings.Contains(errs, "-server string") {
			t.Errorf("%v: exit %d, stderr %q; want exit 0, %q and the flags", tc.args, code, errs, tc.want)
		}
	}
}

// fakeDaemon serves canned JSON for one API path and records the paths it
// was asked for.
type fakeDaemon struct {
	mu    sync.Mutex
	paths []string
}

func (f *fakeDaemon) start(t *testing.T, path string, body any) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDncListsPrintsJSONAndFiltersByName(t *testing.T) {
	lists := []dnc.ListStatus{
		{Name: "complaints", Target: 120, Entries: 2, Processed: 1, Pending: 1, Problems: []string{"+15550000001: no answer yet"}},
		{Name: "legal", Entries: 1, Processed: 1},
	}
	var fake fakeDaemon
	url := fake.start(t, "/api/v1/dnc-lists", map[string]any{"lists": lists})

	code, out, errs := runCmd(t, "dnc", "lists", "--format", "json", "--server", url)
	var all []dnc.ListStatus
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil || len(all) != 2 || all[1].Name != "legal" || all[0].Pending != 1 {
		t.Errorf("json: exit %d, out %q, err %q", code, out, errs)
	}

	code, out, errs = runCmd(t, "dnc", "lists", "legal", "--format", "json", "--server", url)
	var one dnc.ListStatus
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one.Name != "legal" || one.Processed != 1 {
		t.Errorf("json by name: exit %d, out %q, err %q", code, out, errs)
	}

	code, out, errs = runCmd(t, "dnc", "lists", "--server", url, "complaints")
	if code != 0 || !strings.Contains(out, "complaints  120") || strings.Contains(out, "legal") || !strings.Contains(out, "complaints: +15550000001: no answer yet") {
		t.Errorf("table by name: exit %d, out %q, err %q", code, out, errs)
	}

	code, _, errs = runCmd(t, "dnc", "lists", "nope", "--server", url)
	if code != 1 || !strings.Contains(errs, `no DoNotCallList named "nope"`) {
		t.Errorf("unknown name: exit %d, err %q", code, errs)
	}
	code, _, errs = runCmd(t, "dnc", "lists", "--format", "yaml", "--server", url)
	if code != 2 || !strings.Contains(errs, "want table or json") {
		t.Errorf("bad format: exit %d, err %q", code, errs)
	}
	code, _, _ = runCmd(t, "dnc", "lists", "a", "b", "--server", url)
	if code != 2 {
		t.Errorf("two names: exit %d, want 2", code)
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	// The bad format and the two names are refused before asking the daemon.
	if len(fake.paths) != 4 {
		t.Errorf("the daemon was asked %d times, want 4: %v", len(fake.paths), fake.paths)
	}
	for _, p := range fake.paths {
		if p != "GET /api/v1/dnc-lists" {
			t.Errorf("unexpected request %q", p)
		}
	}
}

func TestVersionReadsThisBinarysOwnBuildInformation(t *testing.T) {
	code, out, errs := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "sequencer ") || !strings.Contains(out, "\ngo        "+runtime.Version()+"\n") {
		t.Errorf("exit %d, err %q, out %q", code, errs, out)
	}
}

func TestVersionPrintsTheModuleVersionAndTheCommitItWasBuiltFrom(t *testing.T) {
	saved := readBuildInfo
	t.Cleanup(func() { readBuildInfo = saved })
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: "github.com/sequencer-dev/sequencer", Version: "v1.4.0"},
			Settings: []debug.BuildSetting{
				{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
				{Key: "vcs.revision", Value: "5e1934f0c0ffee"}, {Key: "vcs.time", Value: "2026-12-02T07:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true
	}
	code, out, errs := runCmd(t, "version")
	want := `sequencer v1.4.0
module    github.com/sequencer-dev/sequencer
revision  5e1934f0c0ffee (modified)
committed 2026-12-02T07:00:00Z
go        go1.26.8
platform  linux/amd64
`
	if code != 0 || out != want {
		t.Errorf("exit %d, err %q, got\n%s\nwant\n%s", code, errs, out, want)
	}

	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/sequencer-dev/sequencer"}}, true
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "sequencer (devel)\n") || strings.Contains(out, "revision") {
		t.Errorf("an unstamped build: exit %d, out %q", code, out)
	}
	if code, _, _ := runCmd(t, "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}

// complete loads the bash completion script and completes line as if the
// cursor were at its end, printing what bash would offer.
func complete(t *testing.T, script, line string) []string {
	t.Helper()
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) +
		"\n_sequencer\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", prog).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

func TestTheBashCompletionOffersCommandsSubcommandsAndEachCommandsFlags(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	code, script, errs := runCmd(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, tc := range []struct {
		line string
		want string
	}{
		{"sequencer ", "cancel-record completion db dnc halt history ocs-sim plan reconcile resume run status suspend unhalt validate version"},
		{"sequencer st", "status"},
		{"sequencer db ", "backup check compact migrate"},
		{"sequencer db migrate --to", "--to --to-etcd"},
		{"sequencer db backup --", "--data"},
		{"sequencer db compact --", "--data --out"},
		{"sequencer dnc lists --f", "--format"},
		{"sequencer run --ocs-c", "--ocs-campaign-groups --ocs-counters"},
		{"sequencer --data /tmp status --w", "--watch"},
		{"sequencer completion ", "bash fish zsh"},
		// A sequence name is not a subcommand: bash falls back to files.
		{"sequencer history ", ""},
	} {
		got := strings.Join(complete(t, script, tc.line), " ")
		if got != tc.want {
			t.Errorf("%q completes to %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestTheZshAndFishCompletionsCoverEveryCommandAndFlag(t *testing.T) {
	code, zsh, _ := runCmd(t, "completion", "zsh")
	if code != 0 || !strings.HasPrefix(zsh, "#compdef sequencer\n") || !strings.Contains(zsh, "bashcompinit") || !strings.Contains(zsh, `"run") echo "--adopt-link --advertise --allowed-host --data --etcd`) {
		t.Errorf("zsh: exit %d\n%s", code, zsh)
	}
	code, fish, _ := runCmd(t, "completion", "fish")
	for _, want := range []string{
		"complete -c sequencer -n '__fish_use_subcommand' -a version -d 'print the module version",
		"complete -c sequencer -n '__fish_seen_subcommand_from db; and not __fish_seen_subcommand_from backup check compact migrate' -a backup\n",
		"complete -c sequencer -n '__fish_seen_subcommand_from db; and __fish_seen_subcommand_from compact' -l out -r -F",
		"complete -c sequencer -n '__fish_seen_subcommand_from run' -l ocs-counters -d 'the link\\'s status carries dial counters",
	} {
		if code != 0 || !strings.Contains(fish, want) {
			t.Errorf("fish (exit %d) lacks %q", code, want)
		}
	}
	for shell, script := range map[string]string{"zsh": zsh, "fish": fish} {
		if _, err := exec.LookPath(shell); err != nil {
			continue // syntax is checked where the shell is installed
		}
		if out, err := exec.Command(shell, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v: %s", shell, err, out)
		}
	}
	if code, _, errs := runCmd(t, "completion", "powershell"); code != 2 || !strings.Contains(errs, `unknown shell "powershell"`) {
		t.Errorf("unknown shell: exit %d, err %q", code, errs)
	}
	if code, _, _ := runCmd(t, "completion"); code != 2 {
		t.Errorf("no shell: exit %d, want 2", code)
	}
}

func TestEveryRegisteredCommandAndSubcommandIsInEveryCompletionScript(t *testing.T) {
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := runCmd(t, "completion", shell)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", shell, code, errs)
		}
		scripts[shell] = out
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	// The ones this test was written for, so that a registry that lost them
	// does not pass by listing nothing.
	for _, must := range [][]string{{"halt"}, {"unhalt"}, {"db", "migrate"}, {"dnc", "lists"}, {"completion", "fish"}} {
		c, ok := commands[must[0]]
		if !ok || (len(must) == 2 && !slices.Contains(c.subs, must[1])) {
			t.Errorf("%v is not registered", must)
		}
	}
	bashWords := "\"\") echo \"" + strings.Join(names, " ") + "\""
	for _, shell := range []string{"bash", "zsh"} {
		if !strings.Contains(scripts[shell], bashWords) {
			t.Errorf("%s does not offer every command (%s)", shell, bashWords)
		}
	}
	for _, n := range names {
		fish := "-n '__fish_use_subcommand' -a " + n + " "
		if !strings.Contains(scripts["fish"], fish) {
			t.Errorf("fish does not offer %s", n)
		}
		subs := commands[n].subs
		if len(subs) == 0 {
			continue
		}
		group := fmt.Sprintf("%q) echo %q", n, strings.Join(subs, " "))
		for _, shell := range []string{"bash", "zsh"} {
			if !strings.Contains(scripts[shell], group) {
				t.Errorf("%s does not offer the subcommands of %s: want %s", shell, n, group)
			}
		}
		for _, s := range subs {
			fish := "__fish_seen_subcommand_from " + n + "; and not __fish_seen_subcommand_from " + strings.Join(subs, " ") + "' -a " + s + "\n"
			if !strings.Contains(scripts["fish"], fish) {
				t.Errorf("fish does not offer %s %s", n, s)
			}
			// A subcommand the registry lists is one the command runs.
			if n != "completion" {
				if code, _, errs := runCmd(t, n, s, "-h"); code != 0 {
					t.Errorf("%s %s -h: exit %d: %s", n, s, code, errs)
				}
			}
		}
	}
}
