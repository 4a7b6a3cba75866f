package reconcile

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
)

func TestHaltStopsEveryRunningItemAtOnceAndHoldsAcrossARestartUntilUnhalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(4 * time.Hour)
		b := item("retries", 102, ocs.DialModeProgress)
		b.GroupDBID = 733
		b.StopAt.Time = after(4 * time.Hour)
		h.apply(seq("east", a), seq("west", b))
		h.wait(time.Minute)
		if err := h.rec.Halt(context.Background(), "api:ops", "regulator call"); err != nil {
			t.Fatal(err)
		}
		h.wait(time.Second)
		tr := h.ocs.text()
		for _, g := range []string{"CM_ReqStopDialing 101/732", "CM_ReqStopDialing 102/733"} {
			if !strings.Contains(tr, g) {
				t.Errorf("halt did not send %s:\n%s", g, tr)
			}
		}
		if st := h.rec.HaltState(); !st.Halted || st.Reason != "regulator call" || st.Who != "api:ops" {
			t.Errorf("halt state %+v", st)
		}
		if st := h.status("east"); !st.Suspended || st.SuspendedBy != "halt:api:ops" {
			t.Errorf("east suspended %v by %q, want the halt shown", st.Suspended, st.SuspendedBy)
		}
		h.restart()
		h.wait(time.Hour)
		if n := count(h.ocs.text(), "CM_ReqStartDialing"); n != 2 {
			t.Errorf("%d starts after a restart while halted, want only the 2 before the halt:\n%s", n, h.ocs.text())
		}
		if !h.rec.HaltState().Halted {
			t.Error("the halt did not survive the restart")
		}
		if err := h.rec.Unhalt(context.Background(), "api:ops"); err != nil {
			t.Fatal(err)
		}
		h.wait(time.Second)
		if n := count(h.ocs.text(), "CM_ReqStartDialing"); n != 4 {
			t.Errorf("%d starts after unhalt, want both items dialing again:\n%s", n, h.ocs.text())
		}
		halts := historyOf(t, h.st, "east", "halt")
		if strings.Join(halts, "|") != "dialing halted by api:ops: regulator call|halt lifted by api:ops" {
			t.Errorf("history of the halt: %q", halts)
		}
	})
}

func TestHaltStopsDialingEvenWhenTheDiskIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &failingStore{}
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(4 * time.Hour)
		h.apply(seq("east", a))
		h.wait(time.Minute)
		fs.full.Store(true)
		err := h.rec.Halt(context.Background(), "api:ops", "regulator call")
		if err == nil || !strings.Contains(err.Error(), "will not survive a restart") {
			t.Errorf("halt on a full disk: %v, want it to say the halt is not durable", err)
		}
		h.wait(time.Second)
		if !strings.Contains(h.ocs.text(), "CM_ReqStopDialing 101/732") {
			t.Errorf("halt on a full disk did not stop dialing:\n%s", h.ocs.text())
		}
	})
}

func TestAHaltSpecFileStopsDialingUntilTheFileIsDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(4 * time.Hour)
		s := seq("east", a)
		h.apply(s)
		h.wait(time.Minute)
		snap := h.last
		snap.Halts = map[string]*specs.Halt{"regulator": {Name: "regulator", Reason: "regulator call", Pos: specs.Position{Path: "halt.yaml", Line: 1, Column: 1}}}
		h.snaps <- snap
		h.wait(time.Second)
		if !strings.Contains(h.ocs.text(), "CM_ReqStopDialing 101/732") {
			t.Fatalf("a halt file did not stop dialing:\n%s", h.ocs.text())
		}
		if st := h.rec.HaltState(); !st.Halted || st.Reason != "regulator call" || len(st.Specs) != 1 || st.Specs[0] != "halt.yaml" {
			t.Errorf("halt state %+v", st)
		}
		// Lifting the API halt leaves the file's halt in force.
		if err := h.rec.Unhalt(context.Background(), "api:ops"); err != nil {
			t.Fatal(err)
		}
		h.wait(time.Minute)
		if n := count(h.ocs.text(), "CM_ReqStartDialing"); n != 1 {
			t.Errorf("%d starts while the halt file exists, want only the first", n)
		}
		h.apply(s) // the file is deleted
		h.wait(time.Second)
		if n := count(h.ocs.text(), "CM_ReqStartDialing"); n != 2 {
			t.Errorf("%d starts after the halt file was deleted, want dialing again:\n%s", n, h.ocs.text())
		}
	})
}
