// Package storetest is the conformance suite every progress store passes:
// the bbolt file of a single host and the etcd cluster of a highly
// available set of daemons. It exercises what the reconciler, the
// Do-Not-Call lists and the API rely on, so that a daemon behaves the same
// whichever backend keeps its state.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// Store is what the daemon needs of a backend: the union of
// reconcile.Store, dnc.Store and api.History, plus reads and retention.
type Store interface {
	Progress(seq string) (store.Progress, bool, error)
	AllProgress() ([]store.Progress, error)
	PutProgress(p store.Progress) error
	DeleteProgress(seq string) error
	BeginIntent(in store.Intent) (store.Intent, bool, error)
	SettleIntent(id string, state store.IntentState, outcome string, at time.Time) error
	Intent(id string) (store.Intent, bool, error)
	OpenIntents() ([]store.Intent, error)
	Append(evs ...store.Event) error
	History(seq string, since, until time.Time, limit int) ([]store.Event, error)
	Prune(now time.Time) (int, error)
	PutGroupStatus(gs ...store.GroupStatus) error
	GroupStatuses() ([]store.GroupStatus, error)
	Halt() (store.Halt, bool, error)
	PutHalt(h *store.Halt) error
	DNCEntries() (map[string]store.DNCEntry, error)
	PutDNCEntries([]store.DNCEntry) error
	Commit(b *store.Batch) error
}

// Run runs every conformance test; open returns an empty store with the
// default retention (30 days, 10,000 events per sequence), closed by the
// caller's t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"ProgressRoundTripsEveryField", progressRoundTrips},
		{"AllProgressListsEverySequenceByName", allProgressByName},
		{"DeletingProgressKeepsItsHistory", deleteKeepsHistory},
		{"BeginIntentIsIdempotentByID", beginIntentIdempotent},
		{"SettlingAnUnknownIntentIsErrUnknownIntent", settleUnknown},
		{"OpenIntentsComeOldestFirst", openIntentsOldestFirst},
		{"HistoryScansInTimeOrderWithinRangeAndLimit", historyRanges},
		{"HistoryOfOneSequenceNeverShowsAnotherSharingItsPrefix", historyPrefix},
		{"EventsAtTheSameInstantAreAllKept", historySameInstant},
		{"PruneDropsHistoryAndSettledIntentsOlderThanTheMaxAge", pruneByAge},
		{"GroupStatusKeepsTheLatestObservationPerGroup", groupStatus},
		{"AHaltIsStoredUntilLifted", halt},
		{"DNCEntriesRoundTripByKey", dncEntries},
		{"ManyDNCEntriesAreAllStored", dncMany},
		{"ReturnedValuesDoNotAliasTheStoredOnes", noAliasing},
		{"AnEmptyNameOrIDIsRefused", emptyNames},
		{"CommitWritesEveryProgressIntentAndSettlement", commitWritesAll},
		{"CommitReportsAnIntentTheJournalAlreadyHeldAsNotFresh", commitNotFresh},
		{"ARefusedCommitWritesNothing", commitRefusedWritesNothing},
		{"CommitSkipsTheSettlementOfAnUnknownIntent", commitSkipsUnknownSettle},
		{"CommitOfMoreWritesThanOneEtcdTransactionHoldsWritesThemAll", commitMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var base = time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func progressRoundTrips(t *testing.T, s Store) {
	want := store.Progress{Sequence: "nightly", SpecHash: "h1", Generation: 2, LastScheduled: base,
		FiredStarts:   []time.Time{base},
		SkippedStarts: []store.SkippedStart{{Scheduled: base.Add(-time.Hour), Reason: "downtime", Count: 2}},
		Completed:     []store.RunSummary{{ID: "nightly@x", Items: []store.ItemResult{{Name: "one", Dials: 3}}}},
		Override:      &store.Override{Suspended: true, Who: "ana", Why: "audit", At: base, Until: base.Add(time.Hour)},
		Engine:        map[string]string{"k": "v"},
		Run: &store.Run{ID: "nightly@2026-11-24T23:00:00Z", Item: 1, ItemName: "retries", ItemState: "dialing",
			Segment: 3, Carried: store.Counters{Dials: 7}, CampaignDBID: 101, GroupDBID: 732},
		UpdatedAt: base}
	if _, found, err := s.Progress("nightly"); err != nil || found {
		t.Fatalf("empty store: found %v err %v", found, err)
	}
	must(t, s.PutProgress(want))
	got, found, err := s.Progress("nightly")
	if err != nil || !found {
		t.Fatalf("progress: found %v err %v", found, err)
	}
	// JSON is the stored form's contract (backups), and it compares
	// through the pointers.
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("progress round trip:\n got %s\nwant %s", g, w)
	}
	want.Run.Segment = 4
	must(t, s.PutProgress(want))
	if got, _, _ := s.Progress("nightly"); got.Run.Segment != 4 {
		t.Errorf("a second put did not replace the first: segment %d", got.Run.Segment)
	}
}

func allProgressByName(t *testing.T, s Store) {
	for _, n := range []string{"b", "a", "c"} {
		must(t, s.PutProgress(store.Progress{Sequence: n}))
	}
	all, err := s.AllProgress()
	must(t, err)
	var names []string
	for _, p := range all {
		names = append(names, p.Sequence)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("AllProgress: %v", names)
	}
}

func deleteKeepsHistory(t *testing.T, s Store) {
	must(t, s.PutProgress(store.Progress{Sequence: "gone"}))
	must(t, s.Append(store.Event{Sequence: "gone", At: base, Kind: "k", Message: "m"}))
	must(t, s.DeleteProgress("gone"))
	if _, found, err := s.Progress("gone"); err != nil || found {
		t.Errorf("deleted progress: found %v err %v", found, err)
	}
	if evs, err := s.History("gone", time.Time{}, time.Time{}, 0); err != nil || len(evs) != 1 {
		t.Errorf("history after delete: %+v %v", evs, err)
	}
	must(t, s.DeleteProgress("never-was"))
}

func beginIntentIdempotent(t *testing.T, s Store) {
	first := store.Intent{ID: "a@x/0/0/load", Sequence: "a", Action: "load", Created: base}
	got, fresh, err := s.BeginIntent(first)
	if err != nil || !fresh || got.State != store.IntentOpen {
		t.Fatalf("first begin: %+v fresh=%v err=%v", got, fresh, err)
	}
	got, fresh, err = s.BeginIntent(store.Intent{ID: first.ID, Action: "other", Created: base.Add(time.Second)})
	if err != nil || fresh || got.Action != "load" {
		t.Errorf("second begin: %+v fresh=%v err=%v, want the first one back", got, fresh, err)
	}
	must(t, s.SettleIntent(first.ID, store.IntentDone, "ok", base.Add(2*time.Second)))
	in, found, err := s.Intent(first.ID)
	if err != nil || !found || in.State != store.IntentDone || in.Outcome != "ok" || !in.Settled.Equal(base.Add(2*time.Second)) {
		t.Errorf("settled intent: %+v found %v err %v", in, found, err)
	}
	if open, _ := s.OpenIntents(); len(open) != 0 {
		t.Errorf("a settled intent is still open: %+v", open)
	}
	must(t, s.SettleIntent(first.ID, store.IntentFailed, "again", base.Add(3*time.Second)))
	if in, _, _ := s.Intent(first.ID); in.State != store.IntentFailed {
		t.Errorf("a second settle (a retried step) did not replace the first: %+v", in)
	}
}

func settleUnknown(t *testing.T, s Store) {
	if err := s.SettleIntent("nope", store.IntentDone, "", base); !errors.Is(err, store.ErrUnknownIntent) {
		t.Errorf("settle unknown: %v", err)
	}
	if _, found, err := s.Intent("nope"); err != nil || found {
		t.Errorf("unknown intent: found %v err %v", found, err)
	}
}

func openIntentsOldestFirst(t *testing.T, s Store) {
	for i, id := range []string{"c", "a", "b"} {
		_, _, err := s.BeginIntent(store.Intent{ID: id, Sequence: "s", Created: base.Add(time.Duration(2-i) * time.Minute)})
		must(t, err)
	}
	must(t, s.SettleIntent("a", store.IntentDone, "", base))
	open, err := s.OpenIntents()
	must(t, err)
	var ids []string
	for _, in := range open {
		ids = append(ids, in.ID)
	}
	if !slices.Equal(ids, []string{"b", "c"}) {
		t.Errorf("open intents %v, want [b c] (oldest first)", ids)
	}
}

func historyRanges(t *testing.T, s Store) {
	// Appended out of order: the scan orders by time, not by arrival.
	for _, i := range []int{5, 0, 9, 1, 2, 3, 4, 6, 7, 8} {
		must(t, s.Append(store.Event{Sequence: "a", At: base.Add(time.Duration(i) * time.Hour), Kind: "k", Message: fmt.Sprint(i)}))
	}
	msgs := func(evs []store.Event) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Message)
		}
		return fmt.Sprint(out)
	}
	evs, err := s.History("a", base.Add(2*time.Hour), base.Add(6*time.Hour), 0)
	if err != nil || msgs(evs) != "[2 3 4 5]" {
		t.Errorf("range [2h,6h): %s %v", msgs(evs), err)
	}
	evs, _ = s.History("a", time.Time{}, time.Time{}, 3)
	if msgs(evs) != "[7 8 9]" {
		t.Errorf("limit 3 keeps the newest, oldest first: %s", msgs(evs))
	}
	evs, _ = s.History("a", time.Time{}, time.Time{}, 0)
	if len(evs) != 10 || evs[0].Kind != "k" || evs[0].Sequence != "a" {
		t.Errorf("whole history: %+v", evs)
	}
}

func historyPrefix(t *testing.T, s Store) {
	must(t, s.Append(store.Event{Sequence: "a", At: base, Kind: "k", Message: "mine"},
		store.Event{Sequence: "ab", At: base, Kind: "k", Message: "other"},
		store.Event{Sequence: "a-b", At: base, Kind: "k", Message: "other"}))
	evs, err := s.History("a", time.Time{}, time.Time{}, 0)
	if err != nil || len(evs) != 1 || evs[0].Message != "mine" {
		t.Errorf("history of a: %+v %v", evs, err)
	}
}

func historySameInstant(t *testing.T, s Store) {
	var evs []store.Event
	for i := range 5 {
		evs = append(evs, store.Event{Sequence: "a", At: base, Kind: "k", Message: fmt.Sprint(i)})
	}
	must(t, s.Append(evs...))
	must(t, s.Append(evs[0]))
	got, _ := s.History("a", time.Time{}, time.Time{}, 0)
	if len(got) != 6 {
		t.Errorf("%d events kept of 6 at one instant", len(got))
	}
}

func pruneByAge(t *testing.T, s Store) {
	must(t, s.Append(store.Event{Sequence: "a", At: base, Kind: "k", Message: "old"},
		store.Event{Sequence: "a", At: base.Add(40 * 24 * time.Hour), Kind: "k", Message: "new"}))
	_, _, err := s.BeginIntent(store.Intent{ID: "old-done", Sequence: "a", Created: base})
	must(t, err)
	must(t, s.SettleIntent("old-done", store.IntentDone, "", base))
	_, _, err = s.BeginIntent(store.Intent{ID: "old-open", Sequence: "a", Created: base})
	must(t, err)
	n, err := s.Prune(base.Add(35 * 24 * time.Hour))
	if err != nil || n != 1 {
		t.Errorf("prune removed %d events (%v), want 1", n, err)
	}
	if evs, _ := s.History("a", time.Time{}, time.Time{}, 0); len(evs) != 1 || evs[0].Message != "new" {
		t.Errorf("history after prune: %+v", evs)
	}
	if _, found, _ := s.Intent("old-done"); found {
		t.Error("a settled intent older than the max age survived the prune")
	}
	if _, found, _ := s.Intent("old-open"); !found {
		t.Error("an open intent was pruned: a restart could not settle it")
	}
}

func groupStatus(t *testing.T, s Store) {
	must(t, s.PutGroupStatus(store.GroupStatus{CampaignDBID: 101, GroupDBID: 732, Status: 1, At: base},
		store.GroupStatus{CampaignDBID: 102, GroupDBID: 732, Status: 2, At: base}))
	must(t, s.PutGroupStatus(store.GroupStatus{CampaignDBID: 101, GroupDBID: 732, Status: 3, Dials: 9, Sequence: "a", At: base.Add(time.Second)}))
	must(t, s.PutGroupStatus())
	all, err := s.GroupStatuses()
	must(t, err)
	slices.SortFunc(all, func(a, b store.GroupStatus) int { return int(a.CampaignDBID - b.CampaignDBID) })
	if len(all) != 2 || all[0].Status != 3 || all[0].Dials != 9 || all[0].Sequence != "a" || all[1].Status != 2 {
		t.Errorf("group statuses: %+v", all)
	}
}

func halt(t *testing.T, s Store) {
	if _, found, err := s.Halt(); err != nil || found {
		t.Fatalf("fresh store: halt found %v err %v", found, err)
	}
	want := store.Halt{Reason: "regulator call", Who: "api:alice", Since: base}
	must(t, s.PutHalt(&want))
	if got, found, err := s.Halt(); err != nil || !found || got != want {
		t.Errorf("halt: %+v found %v err %v", got, found, err)
	}
	must(t, s.PutHalt(nil))
	if _, found, _ := s.Halt(); found {
		t.Error("the halt is still stored after it was lifted")
	}
}

func dncEntries(t *testing.T, s Store) {
	removed := base.Add(time.Hour)
	es := []store.DNCEntry{
		{Key: "120|+1415|", List: "complaints", Target: 120, Phone: "+1415", State: store.DNCProcessed, Outcomes: []string{"OCS 120: ok"}, Processed: base},
		{Key: "0||C42", List: "complaints", CustomerID: "C42", State: store.DNCPending, Attempts: 2, NextTry: base, Removed: &removed},
	}
	must(t, s.PutDNCEntries(es))
	must(t, s.PutDNCEntries(nil))
	got, err := s.DNCEntries()
	must(t, err)
	if len(got) != 2 || got["120|+1415|"].State != store.DNCProcessed || got["0||C42"].Removed == nil || !got["0||C42"].Removed.Equal(removed) {
		t.Errorf("DNC entries: %+v", got)
	}
}

func dncMany(t *testing.T, s Store) {
	// More than one etcd transaction holds by default (128 operations).
	var es []store.DNCEntry
	for i := range 300 {
		es = append(es, store.DNCEntry{Key: fmt.Sprintf("0|+1%09d|", i), Phone: fmt.Sprintf("+1%09d", i), State: store.DNCPending})
	}
	must(t, s.PutDNCEntries(es))
	got, err := s.DNCEntries()
	if err != nil || len(got) != 300 {
		t.Errorf("%d entries stored of 300 (%v)", len(got), err)
	}
}

func noAliasing(t *testing.T, s Store) {
	must(t, s.PutProgress(store.Progress{Sequence: "a", FiredStarts: []time.Time{base}}))
	p, _, _ := s.Progress("a")
	p.FiredStarts[0] = base.Add(time.Hour)
	if q, _, _ := s.Progress("a"); !q.FiredStarts[0].Equal(base) {
		t.Error("a returned value aliases the stored one")
	}
}

func emptyNames(t *testing.T, s Store) {
	if err := s.PutProgress(store.Progress{}); err == nil {
		t.Error("progress without a sequence name was stored")
	}
	if _, _, err := s.BeginIntent(store.Intent{}); err == nil {
		t.Error("an intent without an id was stored")
	}
}

func commitWritesAll(t *testing.T, s Store) {
	_, _, err := s.BeginIntent(store.Intent{ID: "a/0/0/load", Sequence: "a", Created: base})
	must(t, err)
	b := &store.Batch{
		Progress: []store.Progress{{Sequence: "a", Generation: 1}, {Sequence: "b", Generation: 2}},
		Begin: []store.Intent{{ID: "a/0/0/start", Sequence: "a", Action: "start", Created: base},
			{ID: "b/0/0/load", Sequence: "b", Action: "load", Created: base}},
		Settle: []store.Settlement{{ID: "a/0/0/load", State: store.IntentDone, Outcome: "ok", At: base.Add(time.Second)},
			// Settled in the same batch that began it: Settle comes after Begin.
			{ID: "b/0/0/load", State: store.IntentFailed, Outcome: "refused", At: base.Add(2 * time.Second)}},
	}
	must(t, s.Commit(b))
	if !slices.Equal(b.Fresh, []bool{true, true}) {
		t.Errorf("fresh %v, want [true true]", b.Fresh)
	}
	for seq, gen := range map[string]int64{"a": 1, "b": 2} {
		if p, found, err := s.Progress(seq); err != nil || !found || p.Generation != gen {
			t.Errorf("progress %s: %+v found %v err %v", seq, p, found, err)
		}
	}
	if in, found, _ := s.Intent("a/0/0/start"); !found || in.State != store.IntentOpen || in.Action != "start" {
		t.Errorf("begun intent: %+v found %v", in, found)
	}
	if in, _, _ := s.Intent("a/0/0/load"); in.State != store.IntentDone || in.Outcome != "ok" || !in.Settled.Equal(base.Add(time.Second)) {
		t.Errorf("settled intent: %+v", in)
	}
	if in, _, _ := s.Intent("b/0/0/load"); in.State != store.IntentFailed || in.Action != "load" {
		t.Errorf("intent begun and settled in one batch: %+v", in)
	}
	b.Reset()
	must(t, s.Commit(b))
	if len(b.Fresh) != 0 {
		t.Errorf("an empty batch reports fresh %v", b.Fresh)
	}
}

func commitNotFresh(t *testing.T, s Store) {
	_, _, err := s.BeginIntent(store.Intent{ID: "a/0/0/load", Sequence: "a", Action: "load", Created: base})
	must(t, err)
	must(t, s.SettleIntent("a/0/0/load", store.IntentDone, "ok", base))
	b := &store.Batch{Begin: []store.Intent{
		{ID: "a/0/0/load", Sequence: "a", Action: "other", Created: base.Add(time.Hour)},
		{ID: "a/0/1/load", Sequence: "a", Action: "load", Created: base.Add(time.Hour)},
		{ID: "a/0/1/load", Sequence: "a", Action: "again", Created: base.Add(time.Hour)},
	}}
	must(t, s.Commit(b))
	if !slices.Equal(b.Fresh, []bool{false, true, false}) {
		t.Errorf("fresh %v, want [false true false]: a journaled step (even one earlier in the same batch) is not fresh", b.Fresh)
	}
	if in, _, _ := s.Intent("a/0/0/load"); in.Action != "load" || in.State != store.IntentDone {
		t.Errorf("an existing intent was overwritten: %+v", in)
	}
	if in, _, _ := s.Intent("a/0/1/load"); in.Action != "load" {
		t.Errorf("the second begin of one id in a batch replaced the first: %+v", in)
	}
}

func commitRefusedWritesNothing(t *testing.T, s Store) {
	must(t, s.PutProgress(store.Progress{Sequence: "a", Generation: 1}))
	refused := []*store.Batch{
		{Progress: []store.Progress{{Sequence: "a", Generation: 2}, {}}},
		{Progress: []store.Progress{{Sequence: "a", Generation: 2}},
			Begin: []store.Intent{{ID: "a/0/0/load", Sequence: "a"}, {Sequence: "a"}}},
	}
	for i, b := range refused {
		if err := s.Commit(b); err == nil {
			t.Errorf("batch %d with an empty name or id was committed", i)
		}
	}
	if p, _, _ := s.Progress("a"); p.Generation != 1 {
		t.Errorf("a refused commit wrote progress: generation %d", p.Generation)
	}
	if _, found, _ := s.Intent("a/0/0/load"); found {
		t.Error("a refused commit journaled an intent")
	}
}

func commitSkipsUnknownSettle(t *testing.T, s Store) {
	b := &store.Batch{Progress: []store.Progress{{Sequence: "a", Generation: 1}},
		Settle: []store.Settlement{{ID: "pruned-long-ago", State: store.IntentDone, At: base}}}
	must(t, s.Commit(b))
	if p, _, _ := s.Progress("a"); p.Generation != 1 {
		t.Errorf("the rest of the batch was lost to an unknown settlement: generation %d", p.Generation)
	}
	if _, found, _ := s.Intent("pruned-long-ago"); found {
		t.Error("settling an unknown intent created it")
	}
}

func commitMany(t *testing.T, s Store) {
	// A burst: 300 sequences, each with its progress, an intent and the
	// settlement of an earlier one (etcd holds 128 operations per txn).
	b := &store.Batch{}
	for i := range 300 {
		seq := fmt.Sprintf("s%03d", i)
		b.Progress = append(b.Progress, store.Progress{Sequence: seq, Generation: int64(i)})
		b.Begin = append(b.Begin, store.Intent{ID: seq + "/0/0/start", Sequence: seq, Created: base})
	}
	must(t, s.Commit(b))
	b2 := &store.Batch{}
	for i := range 300 {
		seq := fmt.Sprintf("s%03d", i)
		b2.Progress = append(b2.Progress, store.Progress{Sequence: seq, Generation: int64(i) + 1000})
		b2.Begin = append(b2.Begin, store.Intent{ID: seq + "/0/1/stop", Sequence: seq, Created: base})
		b2.Settle = append(b2.Settle, store.Settlement{ID: seq + "/0/0/start", State: store.IntentDone, At: base})
	}
	// The same sequence twice in one batch: the last progress wins.
	b2.Progress = append(b2.Progress, store.Progress{Sequence: "s007", Generation: 7777})
	must(t, s.Commit(b2))
	if len(b2.Fresh) != 300 || slices.Contains(b2.Fresh, false) {
		t.Errorf("fresh: %d of 300 reported, some false: %v", len(b2.Fresh), slices.Contains(b2.Fresh, false))
	}
	all, err := s.AllProgress()
	must(t, err)
	if len(all) != 300 || all[299].Generation != 1299 || all[7].Generation != 7777 {
		t.Errorf("%d progress stored of 300; s299 generation %d, s007 %d", len(all), all[len(all)-1].Generation, all[7].Generation)
	}
	open, err := s.OpenIntents()
	must(t, err)
	if len(open) != 300 {
		t.Errorf("%d open intents, want the 300 stops (the 300 starts settled)", len(open))
	}
}
