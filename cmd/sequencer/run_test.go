package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func tokenFileWithMode(t *testing.T, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("s3cret-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// chmod, not WriteFile's mode, which the umask would trim.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestATokenFileOthersCanReadIsWarnedAboutOrRefusedWhenStrict(t *testing.T) {
	for _, c := range []struct {
		mode   os.FileMode
		strict bool
		warn   bool
		refuse bool
	}{
		{0o600, false, false, false},
		{0o400, true, false, false},
		{0o640, false, true, false},
		{0o604, false, true, false},
		{0o620, false, true, false}, // writable by the group: it could swap the token
		{0o644, true, false, true},
		{0o640, true, false, true},
	} {
		path := tokenFileWithMode(t, c.mode)
		var logs bytes.Buffer
		err := checkTokenFileMode(path, c.strict, slog.New(slog.NewTextHandler(&logs, nil)))
		fix := "chmod 600 " + path
		name := fmt.Sprintf("mode %04o strict=%v", c.mode, c.strict)
		switch {
		case c.refuse && (err == nil || !strings.Contains(err.Error(), fix) || !strings.Contains(err.Error(), "token file "+path)):
			t.Errorf("%s: error %v, want a refusal naming the file and %q", name, err, fix)
		case !c.refuse && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		}
		if got := strings.Contains(logs.String(), fix) && strings.Contains(logs.String(), "level=WARN"); got != c.warn {
			t.Errorf("%s: warned=%v, want %v; log: %s", name, got, c.warn, logs.String())
		}
	}
}

func TestAMissingTokenFileIsReportedByTheModeCheck(t *testing.T) {
	err := checkTokenFileMode(filepath.Join(t.TempDir(), "absent"), false, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "token file") {
		t.Errorf("error %v, want one about the token file", err)
	}
}

func TestRunWithStrictPermissionsRefusesAGroupReadableTokenFile(t *testing.T) {
	path := tokenFileWithMode(t, 0o640)
	data := t.TempDir()
	// Bounded: a daemon that is not refused runs until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err := run(ctx, []string{"run", "--strict-permissions", "--token-file", path, "--data", data,
		"--specs", t.TempDir(), "--ocs", "bridge://127.0.0.1:1", "--listen", "", "--log-format", "text"}, io.Discard, &stderr)
	code, errs := exitCode(err, &stderr), stderr.String()
	if code == 0 || !strings.Contains(errs, "chmod 600 "+path) || !strings.Contains(errs, "refused: --strict-permissions") {
		t.Errorf("exit %d, stderr %q; want a refusal naming chmod 600 %s", code, errs, path)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("the daemon went on to open its database: %v", ents)
	}
}
