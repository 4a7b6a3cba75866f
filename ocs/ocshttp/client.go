// Package ocshttp is an ocs.Link over OCS's HTTP interface: campaign-group
// requests as POST /campaigngroups/<DBID>?req=<Action>, answered in the
// HTTP response, and a receiver for the campaign-group state POSTs OCS
// sends (8.1.512.02+) to a configured URI. Those POSTs are fire-and-forget,
// so the loop keeps polling; they only make it look sooner.
//
// OCS addresses campaign groups by their own DBID, which the CommDN
// messages do not carry, so the client needs the map from (campaign,
// group) to campaign-group DBID. What is guessed about the wire lives in
// wire.go.
package ocshttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// CampaignGroup maps one campaign group's configuration DBID to its
// campaign and group. The JSON field names are those of the simulator's
// configuration, so one file serves both.
type CampaignGroup struct {
	DBID         int32  `json:"dbid"`
	CampaignDBID int32  `json:"campaignDBID"`
	GroupDBID    int32  `json:"groupDBID"`
	Name         string `json:"name,omitempty"`
}

// LoadCampaignGroups reads {"campaignGroups":[{"dbid":…,"campaignDBID":…,
// "groupDBID":…}]} from a JSON file.
func LoadCampaignGroups(path string) ([]CampaignGroup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		CampaignGroups []CampaignGroup `json:"campaignGroups"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("campaign groups %s: %w", path, err)
	}
	seen := map[int32]bool{}
	for i, cg := range f.CampaignGroups {
		if cg.DBID <= 0 || cg.CampaignDBID <= 0 || cg.GroupDBID <= 0 {
			return nil, fmt.Errorf("campaign groups %s: entry %d: dbid, campaignDBID and groupDBID must be positive", path, i+1)
		}
		if seen[cg.DBID] {
			return nil, fmt.Errorf("campaign groups %s: entry %d: dbid %d listed twice", path, i+1, cg.DBID)
		}
		seen[cg.DBID] = true
	}
	if len(f.CampaignGroups) == 0 {
		return nil, fmt.Errorf("campaign groups %s: no campaignGroups entries", path)
	}
	return f.CampaignGroups, nil
}

// Options of a Client. Zero values take the defaults in brackets.
type Options struct {
	HTTPClient     *http.Client
	RequestTimeout time.Duration // [5s] then ocs.ErrTimeout
	CampaignGroups []CampaignGroup
	Counters       bool // answers and POSTs carry GSW_STAT_DIALS/CONTACTS/RECORDS_LEFT
	EventBuffer    int  // [4096]
	Logger         *slog.Logger
}

// Client is the HTTP link.
type Client struct {
	base   *url.URL
	opts   Options
	log    *slog.Logger
	byKey  map[[2]int32]CampaignGroup
	byDBID map[int32]CampaignGroup
	byName map[string]CampaignGroup
	up     atomic.Bool
	recv   ocs.Receipts

	mu     sync.Mutex // guards events against Close
	events chan ocs.Message
	closed bool
	done   chan struct{}
}

// New returns a client for the OCS HTTP listener at base
// ("http://ocs.example:8090").
func New(base string, opts Options) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ocs http url %q: want http://HOST:PORT or https://HOST:PORT", base)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 4096
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{base: u, opts: opts, log: opts.Logger, events: make(chan ocs.Message, opts.EventBuffer),
		done: make(chan struct{}), byKey: map[[2]int32]CampaignGroup{}, byDBID: map[int32]CampaignGroup{}, byName: map[string]CampaignGroup{}}
	for _, cg := range opts.CampaignGroups {
		c.byKey[[2]int32{cg.CampaignDBID, cg.GroupDBID}] = cg
		c.byDBID[cg.DBID] = cg
		if cg.Name != "" {
			c.byName[cg.Name] = cg
		}
	}
	c.up.Store(true)
	return c, nil
}

// Up reports whether the last request reached OCS.
func (c *Client) Up() bool { return c.up.Load() }

// Events delivers the state POSTs as CM_EvCampaignStatus.
func (c *Client) Events() <-chan ocs.Message { return c.events }

// Capabilities of the peer, as configured.
func (c *Client) Capabilities() ocs.Capabilities { return ocs.Capabilities{Counters: c.opts.Counters} }

// Close closes Events; later requests fail with ocs.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
		close(c.events)
	}
	return nil
}

// Request sends req and returns its answer, built as the CM answer event
// would be so that the loop cannot tell the links apart.
func (c *Client) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	if err := req.Validate(); err != nil {
		return ocs.Message{}, err
	}
	select {
	case <-c.done:
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	default:
	}
	action, ok := Action(req.Type)
	if !ok {
		return ocs.Message{}, fmt.Errorf("%s: not available over OCS HTTP: %w", req.Type, ocs.ErrInvalidRequest)
	}
	if req.CampaignDBID == 0 {
		return ocs.Message{}, fmt.Errorf("%s: campaign sequences (CampaignDBID 0) are not reachable over OCS HTTP; use engine sequencer or a bridge link: %w", req.Type, ocs.ErrInvalidRequest)
	}
	cg, ok := c.byKey[[2]int32{req.CampaignDBID, req.GroupDBID}]
	if !ok {
		return ocs.Message{}, fmt.Errorf("%s: campaign %d group %d: no campaign group DBID in the campaign-groups file: %w",
			req.Type, req.CampaignDBID, req.GroupDBID, ocs.ErrInvalidRequest)
	}
	after := c.recv.Mark()
	body, _ := json.Marshal(BodyOf(req))
	u := c.base.JoinPath(Path(cg.DBID))
	u.RawQuery = url.Values{ActionParam: {action}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return ocs.Message{}, fmt.Errorf("%s: %w: %v", req.Type, ocs.ErrInvalidRequest, err)
	}
	hr.Header.Set("Content-Type", ContentType)
	resp, err := c.opts.HTTPClient.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ocs.Message{}, fmt.Errorf("%s to campaign group %d within %s: %w", req.Type, cg.DBID, c.opts.RequestTimeout, ocs.ErrTimeout)
		}
		if errors.Is(err, context.Canceled) {
			return ocs.Message{}, err
		}
		c.setUp(false)
		return ocs.Message{}, fmt.Errorf("%s: %w: %v", req.Type, ocs.ErrDisconnected, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, ocs.MaxFrameSize))
	if err != nil {
		c.setUp(false)
		return ocs.Message{}, fmt.Errorf("%s: reading the answer: %w: %v", req.Type, ocs.ErrDisconnected, err)
	}
	c.setUp(true)
	// HTTP has no single wire: an answer takes its place in receive order
	// once its body is read, beside the state POSTs.
	stamp := c.recv.Stamp(ocs.Message{}).Recv
	st, skipped, decodeErr := DecodeState(raw)
	if len(skipped) > 0 {
		c.log.Warn("parts of an OCS answer could not be read and were skipped", "request", req.Type.String(),
			"campaign_group", cg.DBID, "skipped", skipped)
	}
	switch {
	case ProxyDown(resp.StatusCode) && (decodeErr != nil || st.Error == nil):
		// The HTTP proxy restarts with OCS: treat as the link being down.
		return ocs.Message{}, fmt.Errorf("%s: HTTP %d %s: %w", req.Type, resp.StatusCode, snippet(raw), ocs.ErrDisconnected)
	case decodeErr != nil:
		return ocs.Message{}, fmt.Errorf("%s: HTTP %d with an unreadable body %s: %w", req.Type, resp.StatusCode, snippet(raw), ocs.ErrInvalidRequest)
	case st.Error != nil && *st.Error != 0:
		ans := ocs.NewError(req, ocs.ErrorCode(*st.Error), st.ErrorMessage)
		ans.Recv, ans.After = stamp, after
		return ans, ans.AsError(req.Type)
	case !Succeeded(resp.StatusCode):
		return ocs.Message{}, fmt.Errorf("%s: HTTP %d %s: %w", req.Type, resp.StatusCode, snippet(raw), ocs.ErrInvalidRequest)
	}
	tg := ocs.Target{OriginAppDBID: req.OriginAppDBID, TargetAppDBID: req.TargetAppDBID, CampaignDBID: req.CampaignDBID, GroupDBID: req.GroupDBID}
	ans := st.Message(req.Type.Answer(), tg)
	if req.Has&ocs.AttrReferenceID != 0 {
		ans = ans.WithReference(req.ReferenceID)
	}
	ans.Recv, ans.After = stamp, after
	return ans, nil
}

// setUp records whether OCS answered, and announces each change on Events
// so that the loop re-reads its groups after OCS was unreachable.
func (c *Client) setUp(up bool) {
	if c.up.Swap(up) == up {
		return
	}
	t := ocs.LinkDown
	if up {
		t = ocs.LinkUp
	}
	c.emit(ocs.Message{Type: t}, true)
	if !up {
		go c.probe()
	}
}

// probe finds out when OCS answers again. The loop sends nothing while the
// link is down, so without it an HTTP link, which has no connection to
// re-establish, would never learn that OCS is back. Any HTTP answer will
// do: it proves that OCS's HTTP port is listening.
func (c *Client) probe() {
	wait := time.Second
	for {
		select {
		case <-c.done:
			return
		case <-time.After(wait):
		}
		if c.up.Load() {
			return // a request got through meanwhile
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String(), nil)
		resp, err := c.opts.HTTPClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			c.setUp(true)
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// emit stamps m and puts it on Events, under one lock so that stamps and
// channel order agree. Notices wait for room; a state POST is dropped when
// the loop is that far behind, since it polls anyway.
func (c *Client) emit(m ocs.Message, wait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	m = c.recv.Stamp(m)
	if wait {
		select {
		case c.events <- m:
		case <-time.After(c.opts.RequestTimeout):
			c.log.Warn("event buffer full; could not announce a link change", "notice", m.Type.String())
		}
		return
	}
	select {
	case c.events <- m:
	default:
		c.log.Warn("event buffer full; dropping a campaign-group state (the loop polls status anyway)")
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// StatesHandler receives OCS's campaign-group state POSTs (point OCS's
// campaigngroup-states-uri at it). OCS does not retry, so the handler keeps
// whatever it can read: a value it cannot read is skipped and logged, and
// the rest still becomes an event; a group it does not know is logged. It
// answers 204 to all of these. Only a body that names no campaign group at
// all (or is no JSON object) is refused with 400, since nothing can be
// done with it.
func (c *Client) StatesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != Method {
			w.Header().Set("Allow", Method)
			http.Error(w, "campaign-group states are POSTed", http.StatusMethodNotAllowed)
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, ocs.MaxFrameSize))
		var st State
		var skipped []string
		if err == nil {
			st, skipped, err = DecodeState(raw)
		}
		if err == nil && !st.Identified() {
			err = fmt.Errorf("no campaign group DBID or name (%s, %s, %s/%s) in %s",
				KeyCampaignGroupDBID, KeyCampaignGroupName, KeyCampaignDBID, KeyGroupDBID, snippet(raw))
		}
		if err != nil {
			c.log.Warn("campaign-group state POST refused", "from", r.RemoteAddr, "err", err)
			http.Error(w, "campaign-group state: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(skipped) > 0 {
			c.log.Warn("campaign-group state POST read in part; skipped what could not be read",
				"dbid", st.CampaignGroupDBID, "name", st.CampaignGroupName, "skipped", skipped)
		}
		cg, ok := c.resolve(st)
		if !ok {
			c.log.Warn("campaign-group state POST for an unmapped campaign group", "dbid", st.CampaignGroupDBID, "name", st.CampaignGroupName)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		ev := st.Message(ocs.EvCampaignStatus, ocs.Target{CampaignDBID: cg.CampaignDBID, GroupDBID: cg.GroupDBID})
		c.emit(ev, false)
		w.WriteHeader(http.StatusNoContent)
	})
}

func (c *Client) resolve(st State) (CampaignGroup, bool) {
	if cg, ok := c.byDBID[st.CampaignGroupDBID]; ok && st.CampaignGroupDBID != 0 {
		return cg, true
	}
	if cg, ok := c.byKey[[2]int32{st.CampaignDBID, st.GroupDBID}]; ok {
		return cg, true
	}
	cg, ok := c.byName[st.CampaignGroupName]
	return cg, ok && st.CampaignGroupName != ""
}
