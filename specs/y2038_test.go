package specs

import (
	"strings"
	"testing"
)

func TestAnOCSSequenceStopTimePast2038IsRefusedWhereItIsWritten(t *testing.T) {
	doc := func(engine, stop string) string {
		return "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: late}\nspec:\n  engine: " + engine +
			"\n  items:\n    - name: a\n      campaignDBID: 101\n      groupDBID: 732\n      dialMode: progressive\n      stopAt:\n        time: \"" + stop + "\"\n"
	}
	p := Parse("late.yaml", []byte(doc("ocs", "2038-01-19T03:14:08Z")))
	if !HasErrors(p.Problems) || !strings.Contains(p.Problems[0].String(), "stopAt.time: engine ocs sends stop times as 32-bit Unix seconds, which end at 2038-01-19T03:14:07Z") ||
		!strings.HasPrefix(p.Problems[0].String(), "late.yaml:12:15:") {
		t.Errorf("problems %v", p.Problems)
	}
	for _, ok := range []string{doc("ocs", "2038-01-19T03:14:07Z"), doc("sequencer", "2040-01-01T00:00:00Z")} {
		if p := Parse("late.yaml", []byte(ok)); HasErrors(p.Problems) {
			t.Errorf("refused a valid stop: %v", p.Problems)
		}
	}
}
