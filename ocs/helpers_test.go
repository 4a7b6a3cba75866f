package ocs

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ocs -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test ./ocs -update refreshes it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// sameMessage reports whether two messages carry the same attributes.
func sameMessage(a, b Message) bool {
	pa, pb := a.Properties, b.Properties
	a.Properties, b.Properties = nil, nil
	return reflect.DeepEqual(a, b) && pa.Equal(pb)
}

var (
	daemon = int32(310)
	ocsApp = int32(120)
	tg101  = Target{OriginAppDBID: daemon, TargetAppDBID: ocsApp, CampaignDBID: 101, GroupDBID: 732}
	tgSeq  = Target{OriginAppDBID: daemon, TargetAppDBID: ocsApp, CampaignDBID: 0, GroupDBID: 732}
	pred   = Pacing{DialMode: DialModePredict, OptimizeBy: OptimizeOverdialRate, OptimizeGoal: 3}
	yes    = true
)

// threeItems is a full campaign_schedule: every key of every item set,
// statuses included, times on either side of a day boundary.
func threeItems() Schedule {
	start := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	return Schedule{
		Description: "nightly collections",
		StartTime:   EncodeTime(start),
		Items: []ScheduleItem{
			{StopAtTime: EncodeTime(start.Add(2 * time.Hour)), StopAtContacts: 300, StopAtDials: 1000,
				SleepBeforeNextStart: 0, CampaignDBID: 101, DialMode: DialModePredict,
				OptMethod: OptimizeOverdialRate, OptMethodValue: 3, Status: StatusRunning, HasStatus: true},
			{StopAtTime: EncodeTime(start.Add(4 * time.Hour)), StopAtContacts: 100, StopAtDials: 500,
				SleepBeforeNextStart: 10, CampaignDBID: 102, DialMode: DialModeProgress,
				OptMethod: OptimizeNone, OptMethodValue: 0, Status: StatusNotLoaded, HasStatus: true},
			{StopAtTime: EncodeTime(start.Add(6 * time.Hour)), StopAtContacts: 50, StopAtDials: 200,
				SleepBeforeNextStart: 5, CampaignDBID: 103, DialMode: DialModePreview,
				OptMethod: OptimizeWaitTime, OptMethodValue: 20, Status: StatusNotLoaded, HasStatus: true},
		},
	}
}

// nItems builds a schedule of n items cycling over the configured campaigns.
func nItems(n int) Schedule {
	s := threeItems()
	s.Items = s.Items[:0]
	for i := range n {
		s.Items = append(s.Items, ScheduleItem{
			StopAtTime: s.StartTime + int64(i+1)*3600, StopAtContacts: int32(100 * (i + 1)),
			StopAtDials: int32(1000 * (i + 1)), SleepBeforeNextStart: int32(i % 15),
			CampaignDBID: 101 + int32(i%6), DialMode: DialModePredict,
			OptMethod: OptimizeBusyFactor, OptMethodValue: 80,
		})
	}
	return s
}
