package ocs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Keys of campaign_schedule and scheduleItem-<n> (seed: "User Event
// Attributes for campaign_schedule").
const (
	SchedDescription         = "Description"
	SchedStartTime           = "startTime"
	SchedNItems              = "nItems"
	SchedItemPrefix          = "scheduleItem-"
	ItemStopAtTime           = "stopAtTime"
	ItemStopAtContacts       = "stopAtContacts"
	ItemStopAtDials          = "stopAtDials"
	ItemSleepBeforeNextStart = "sleepBeforeNextStart"
	ItemCampaignDBID         = "campaignDBID"
	ItemDialMode             = "dialMode"
	ItemOptMethod            = "optMethod"
	ItemOptMethodValue       = "optMethodValue"
	ItemStatus               = "status"
)

// Schedule is the campaign_schedule of an OCS-side sequence.
type Schedule struct {
	Description string
	StartTime   int64 // Unix seconds, UTC; see EncodeTime
	Items       []ScheduleItem
}

// ScheduleItem is one scheduleItem-<n>. Zero stop values mean "not set".
type ScheduleItem struct {
	StopAtTime           int64 // Unix seconds, UTC
	StopAtContacts       int32
	StopAtDials          int32
	SleepBeforeNextStart int32 // minutes
	CampaignDBID         int32
	DialMode             DialMode
	OptMethod            OptimizeMethod
	OptMethodValue       int32
	Status               GroupCampStatus
	HasStatus            bool
}

// EncodeTime and DecodeTime are the one place that says how a time travels
// in campaign_schedule: the seed says "Int" and "UTC", which we read as Unix
// seconds. A lab finding that OCS wants something else changes only these.
func EncodeTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// DecodeTime is the inverse of EncodeTime; 0 is the zero time.
func DecodeTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

// Encode renders the schedule with nItems matching the items.
func (s Schedule) Encode() TKVList {
	l := TKVList{}.
		AddString(SchedDescription, s.Description).
		AddInt(SchedStartTime, int32(s.StartTime)).
		AddInt(SchedNItems, int32(len(s.Items)))
	for i, it := range s.Items {
		il := TKVList{}.
			AddInt(ItemStopAtTime, int32(it.StopAtTime)).
			AddInt(ItemStopAtContacts, it.StopAtContacts).
			AddInt(ItemStopAtDials, it.StopAtDials).
			AddInt(ItemSleepBeforeNextStart, it.SleepBeforeNextStart).
			AddInt(ItemCampaignDBID, it.CampaignDBID).
			AddInt(ItemDialMode, int32(it.DialMode)).
			AddInt(ItemOptMethod, int32(it.OptMethod)).
			AddInt(ItemOptMethodValue, it.OptMethodValue)
		if it.HasStatus {
			il = il.AddInt(ItemStatus, int32(it.Status))
		}
		l = l.AddList(SchedItemPrefix+strconv.Itoa(i+1), il)
	}
	return l
}

// MaxScheduleItems bounds nItems so that a hostile schedule cannot make the
// decoder allocate without limit.
const MaxScheduleItems = 1000

// DecodeSchedule reads a campaign_schedule. It rejects an nItems that does
// not match the scheduleItem-<n> present, a missing item, and a value of the
// wrong type, naming the item and key.
func DecodeSchedule(l TKVList) (Schedule, error) {
	var s Schedule
	var err error
	if l.Has(SchedDescription) {
		if s.Description, err = l.GetString(SchedDescription); err != nil {
			return s, fmt.Errorf("campaign_schedule: %w", err)
		}
	}
	st, err := l.GetInt(SchedStartTime)
	if err != nil && !errors.Is(err, ErrMissingKey) {
		return s, fmt.Errorf("campaign_schedule: %w", err)
	}
	s.StartTime = int64(st)
	n, err := l.GetInt(SchedNItems)
	if err != nil {
		return s, fmt.Errorf("campaign_schedule: %w", err)
	}
	if n < 0 || n > MaxScheduleItems {
		return s, fmt.Errorf("campaign_schedule: nItems %d out of range 0-%d", n, MaxScheduleItems)
	}
	present := 0
	for _, p := range l {
		if strings.HasPrefix(p.Key, SchedItemPrefix) {
			present++
		}
	}
	if present != int(n) {
		return s, fmt.Errorf("campaign_schedule: nItems is %d but %d %s<n> entries are present", n, present, SchedItemPrefix)
	}
	s.Items = make([]ScheduleItem, n)
	for i := range s.Items {
		key := SchedItemPrefix + strconv.Itoa(i+1)
		il, err := l.GetList(key)
		if err != nil {
			return s, fmt.Errorf("campaign_schedule: %w", err)
		}
		it := &s.Items[i]
		ints := []struct {
			k   string
			p   *int32
			req bool
		}{
			{ItemStopAtContacts, &it.StopAtContacts, false},
			{ItemStopAtDials, &it.StopAtDials, false},
			{ItemSleepBeforeNextStart, &it.SleepBeforeNextStart, false},
			{ItemCampaignDBID, &it.CampaignDBID, true},
			{ItemDialMode, (*int32)(&it.DialMode), true},
			{ItemOptMethod, (*int32)(&it.OptMethod), false},
			{ItemOptMethodValue, &it.OptMethodValue, false},
		}
		for _, f := range ints {
			v, err := il.GetInt(f.k)
			if errors.Is(err, ErrMissingKey) && !f.req {
				continue
			}
			if err != nil {
				return s, fmt.Errorf("campaign_schedule: %s: %w", key, err)
			}
			*f.p = v
		}
		if il.Has(ItemStopAtTime) {
			v, err := il.GetInt(ItemStopAtTime)
			if err != nil {
				return s, fmt.Errorf("campaign_schedule: %s: %w", key, err)
			}
			it.StopAtTime = int64(v)
		}
		if il.Has(ItemStatus) {
			v, err := il.GetInt(ItemStatus)
			if err != nil {
				return s, fmt.Errorf("campaign_schedule: %s: %w", key, err)
			}
			it.Status, it.HasStatus = GroupCampStatus(v), true
		}
	}
	return s, nil
}
