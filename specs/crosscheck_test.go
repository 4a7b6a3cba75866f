package specs

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"
)

// crossCheckByMap is crossCheck as it was before it sorted one list: the
// reference the faster one must agree with, problem for problem and in
// the same order. Both word a problem with sharedGroup; what is compared
// is which pairs they find, and in what order.
func crossCheckByMap(snap *Snapshot, overlap OverlapFunc, now time.Time) {
	type use struct {
		seq  *Sequence
		item *Item
	}
	byGroup := map[[2]int32][]use{}
	names := make([]string, 0, len(snap.Sequences))
	for n := range snap.Sequences {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := snap.Sequences[n]
		seen := map[[2]int32]bool{}
		for i := range s.Items {
			k := [2]int32{s.Items[i].CampaignDBID, s.Items[i].GroupDBID}
			if seen[k] {
				continue
			}
			seen[k] = true
			byGroup[k] = append(byGroup[k], use{s, &s.Items[i]})
		}
	}
	keys := make([][2]int32, 0, len(byGroup))
	for k := range byGroup {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || (keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1])
	})
	for _, k := range keys {
		us := byGroup[k]
		for i := 1; i < len(us); i++ {
			for j := 0; j < i; j++ {
				if p, ok := sharedGroup(k, us[j].seq, us[j].item, us[i].seq, us[i].item, overlap, now); ok {
					snap.Problems = append(snap.Problems, p)
				}
			}
		}
	}
}

func TestTheCrossCheckFindsWhatTheMapOfGroupsFoundInTheSameOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// A verdict that depends on the pair, in order, so that any change of
	// who is compared with whom shows.
	verdict := func(a, b *Sequence, _ time.Time) Overlap {
		return Overlap{OverlapVerdict((len(a.Name) + 2*len(b.Name) + int(a.Name[0]) + int(b.Name[1])) % 3), a.Name + "/" + b.Name}
	}
	for round := range 200 {
		snap := Snapshot{Sequences: map[string]*Sequence{}}
		for i := range 1 + rng.IntN(12) {
			s := &Sequence{Name: fmt.Sprintf("s%d-%s", i, string(rune('a'+rng.IntN(26))))}
			for j := range 1 + rng.IntN(4) {
				s.Items = append(s.Items, Item{CampaignDBID: int32(100 + rng.IntN(3)), GroupDBID: int32(700 + rng.IntN(2)),
					Pos: Position{Path: s.Name + ".yaml", Line: 5 + j, Column: 7}})
			}
			snap.Sequences[s.Name] = s
		}
		want := snap
		want.Problems = nil
		crossCheckByMap(&want, verdict, time.Time{})
		got := snap
		got.Problems = nil
		crossCheck(&got, verdict, time.Time{})
		if !reflect.DeepEqual(got.Problems, want.Problems) {
			t.Fatalf("round %d: got\n%v\nwant\n%v", round, got.Problems, want.Problems)
		}
	}
}
