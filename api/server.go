// Package api is the daemon's HTTP surface: the JSON API under /api/v1,
// health and readiness probes, and Prometheus metrics. It holds no state of
// its own: it reads the reconciler's published status and the store's
// history, and forwards commands to the reconciler's loop.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/api/ui"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/store"
)

// Reconciler is what the API needs of the loop.
type Reconciler interface {
	Sequences() []reconcile.SequenceStatus
	Sequence(name string) (reconcile.SequenceStatus, bool)
	Groups() []reconcile.GroupObservation
	Suspend(ctx context.Context, name, who, why string, until time.Time) error
	Resume(ctx context.Context, name, who, why string) error
	ReconcileNow(ctx context.Context, name string) error
	QueueDepth() int
	Halt(ctx context.Context, who, reason string) error
	Unhalt(ctx context.Context, who string) error
	HaltState() reconcile.HaltStatus
}

// History is what the API needs of the store.
type History interface {
	History(seq string, since, until time.Time, limit int) ([]store.Event, error)
}

// Planner projects a running sequence to the end of its run: its ETA.
type Planner interface {
	ETA(ctx context.Context, name string, a reconcile.Assumptions) (reconcile.ETA, error)
}

// Check is one readiness check: nil Err means ready.
type Check struct {
	Name string
	Err  error
}

// StoreHealth is what /readyz needs of the store: nil when it can be read
// and written.
type StoreHealth interface {
	Healthy() error
}

// Config of a Server.
type Config struct {
	Reconciler Reconciler
	History    History
	Ready      func() []Check // readiness checks (specs loaded, OCS link up, ...)
	// Store is the "store" readiness check, which it always reports: nil
	// shows it as unknown rather than ok, and a "store" entry from Ready
	// is ignored so that nothing claims the store is fine without asking it.
	Store StoreHealth
	Token string // bearer token required on /api and /metrics when set
	// AllowedHosts are the names, "name" or "name:port", that clients may
	// put in Host and Origin besides loopback names (on a loopback
	// listener) and the IP the daemon listens on: a proxy's or a DNS name.
	AllowedHosts []string
	Metrics      *Metrics // nil: no /metrics
	Records      Records  // nil: record requests answer 501
	Planner      Planner  // nil: the plan endpoint answers 501
	DNCLists     DNCLists
	Logger       *slog.Logger
	Now          func() time.Time
	// EventPoll is how often GET /api/v1/events compares the published
	// status with what each client was sent (default 1 s); Heartbeat how
	// often an idle stream gets a comment line (default 15 s).
	EventPoll time.Duration
	Heartbeat time.Duration
	// Cluster is leader election when several daemons share an etcd
	// cluster: a standby refuses state changes (503, naming the leader)
	// and is not ready. nil: a single daemon.
	Cluster Cluster
}

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 64 << 10

// Server serves the API.
type Server struct {
	cfg Config
	mux *http.ServeMux
	// closing ends the event streams, which would otherwise hold
	// http.Server.Shutdown until its deadline.
	closing   chan struct{}
	closeOnce sync.Once
}

// NewServer builds the handler tree.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventPoll <= 0 {
		cfg.EventPoll = defaultEventPoll
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = defaultHeartbeat
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), closing: make(chan struct{})}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /api/v1/sequences", s.auth(s.listSequences))
	s.mux.Handle("GET /api/v1/sequences/{name}", s.auth(s.getSequence))
	s.mux.Handle("GET /api/v1/sequences/{name}/history", s.auth(s.history))
	s.mux.Handle("GET /api/v1/sequences/{name}/plan", s.auth(s.plan))
	s.mux.Handle("POST /api/v1/sequences/{name}/suspend", s.auth(s.suspend))
	s.mux.Handle("POST /api/v1/sequences/{name}/resume", s.auth(s.resume))
	s.mux.Handle("POST /api/v1/sequences/{name}/reconcile", s.auth(s.reconcile))
	s.mux.Handle("GET /api/v1/campaign-groups", s.auth(s.groups))
	s.mux.Handle("GET /api/v1/halt", s.auth(s.haltState))
	s.mux.Handle("POST /api/v1/halt", s.auth(s.halt))
	s.mux.Handle("DELETE /api/v1/halt", s.auth(s.unhalt))
	s.mux.Handle("POST /api/v1/dnc", s.auth(s.recordRequest(false)))
	s.mux.Handle("POST /api/v1/cancel-record", s.auth(s.recordRequest(true)))
	s.mux.Handle("GET /api/v1/dnc-lists", s.auth(s.dncLists))
	s.mux.Handle("GET /api/v1/events", s.auth(s.events))
	// The dashboard's files hold no data and no secret, so they need no
	// token (a browser cannot send one when it opens a page): every
	// figure on it comes from /api, which does.
	dash := ui.Handler()
	s.mux.Handle("GET /{$}", dash)
	s.mux.Handle("GET /ui/", dash)
	s.mux.Handle("GET /api/v1/cluster", s.auth(s.cluster))
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.auth(cfg.Metrics.handler(cfg.Reconciler, cfg.DNCLists).ServeHTTP))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s %s: allowed methods are %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s
}

// Handler returns the root handler. It applies the checks that protect
// the daemon from the operator's own browser (guard.go) to every route,
// present and future, before any route runs.
func (s *Server) Handler() http.Handler {
	return rootHandler{s: s, h: s.guarded()}
}

// rootHandler lets NewHTTPServer find the Server behind a handler, to end
// its event streams on shutdown.
type rootHandler struct {
	s *Server
	h http.Handler
}

func (h rootHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// CloseStreams ends every open event stream; one opened later ends after
// its first burst. http.Server.Shutdown waits for handlers to return, and
// a stream never would by itself.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() { close(s.closing) })
}

func (s *Server) guarded() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// GET /healthz says nothing but "ok", and probes call it by
		// whatever name they have.
		probe := r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
		if !probe && !s.hostAllowed(r) {
			writeError(w, http.StatusMisdirectedRequest, "host_not_allowed",
				fmt.Sprintf("Host %q is not a name of this server: use a loopback address or a configured allowed host", r.Host))
			return
		}
		// A path or method with no route gets its 404 or 405 instead.
		if _, pattern := s.mux.Handler(r); !safeMethod(r.Method) && pattern != "/" {
			if why := s.crossSite(r); why != "" {
				writeError(w, http.StatusForbidden, "cross_site_request", "cross-site request refused: "+why)
				return
			}
			if why := jsonContentType(r); why != "" {
				writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", why)
				return
			}
			// Who leads is told to callers with the token only; the others
			// get their 401 from the route.
			if s.authorized(r) {
				if why := s.standbyRefusal(r); why != "" {
					writeError(w, http.StatusServiceUnavailable, "not_leader", why)
					return
				}
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

// NewHTTPServer wraps h with the timeouts every exposed server needs.
// When h is a Server's Handler, Shutdown also ends its event streams.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	srv := &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	if rh, ok := h.(rootHandler); ok {
		srv.RegisterOnShutdown(rh.s.CloseStreams)
	}
	return srv
}

// ErrInsecureListen is returned by CheckListen for a non-loopback address
// without a token.
var ErrInsecureListen = errors.New("listening beyond loopback needs --token-file")

// CheckListen enforces "loopback by default; anything else needs a token".
func CheckListen(addr string, haveToken bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if haveToken {
		return nil
	}
	return fmt.Errorf("listen address %q: %w", addr, ErrInsecureListen)
}

// authorized: no token is configured, or r carries it.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := bearerToken(r.Header.Get("Authorization"))
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			if !s.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sequencer"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		h(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Ready bool `json:"ready"`
	// Role is "leader" or "standby" when daemons share an etcd cluster:
	// only the leader is ready, so that a load balancer sends it the
	// traffic.
	Role   string            `json:"role,omitempty"`
	Checks map[string]string `json:"checks"`
	// Halt is shown while dialing is halted. A halted daemon is still
	// ready: it is doing what it was told.
	Halt *reconcile.HaltStatus `json:"halt,omitempty"`
}

// storeUnknown is the store check's value when the server was given no
// way to ask the store. It does not make the daemon unready: the store
// opened at start or the daemon would not be running.
const storeUnknown = "unknown: no store health check configured"

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	out := readiness{Ready: true, Checks: map[string]string{}}
	var checks []Check
	if s.cfg.Ready != nil {
		for _, c := range s.cfg.Ready() {
			if c.Name != "store" { // only Config.Store speaks for the store
				checks = append(checks, c)
			}
		}
	}
	if s.cfg.Store != nil {
		checks = append(checks, Check{Name: "store", Err: s.cfg.Store.Healthy()})
	} else {
		out.Checks["store"] = storeUnknown
	}
	for _, c := range checks {
		if c.Err != nil {
			out.Ready = false
			out.Checks[c.Name] = c.Err.Error()
		} else {
			out.Checks[c.Name] = "ok"
		}
	}
	if s.cfg.Cluster != nil {
		leading, reason := s.cfg.Cluster.Leading()
		out.Role = role(leading)
		if leading {
			out.Checks["leader"] = "ok"
		} else {
			out.Ready = false
			out.Checks["leader"] = "standby: " + reason
		}
	}
	if s.cfg.Reconciler != nil {
		if h := s.cfg.Reconciler.HaltState(); h.Halted {
			out.Halt = &h
		}
	}
	code := http.StatusOK
	if !out.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, out)
}

func (s *Server) listSequences(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sequences": s.cfg.Reconciler.Sequences()})
}

func (s *Server) getSequence(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	st, ok := s.cfg.Reconciler.Sequence(name)
	if !ok {
		writeError(w, http.StatusNotFound, "sequence_not_found", fmt.Sprintf("no sequence named %q", name))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// HistoryEvent is one history entry as the API shows it.
type HistoryEvent struct {
	At       time.Time         `json:"at"`
	Kind     string            `json:"kind"`
	Run      string            `json:"run,omitempty"`
	Item     string            `json:"item,omitempty"`
	Action   string            `json:"action,omitempty"`
	Message  string            `json:"message"`
	SpecHash string            `json:"specHash,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	_, known := s.cfg.Reconciler.Sequence(name)
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, s.cfg.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "since: "+err.Error())
			return
		}
		since = t
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit: want an integer from 1 to 10000")
			return
		}
		limit = n
	}
	specHash, run := q.Get("specHash"), q.Get("run")
	fetch := limit
	if specHash != "" || run != "" {
		fetch = 10000 // filtered below; the limit applies to what is kept
	}
	evs, err := s.cfg.History.History(name, since, time.Time{}, fetch)
	if err != nil {
		s.cfg.Logger.Error("read history", "sequence", name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "reading history failed")
		return
	}
	// The audit trail outlives the spec: a deleted sequence's history is
	// still served; only a name nothing was ever recorded for is unknown.
	if !known && len(evs) == 0 {
		writeError(w, http.StatusNotFound, "sequence_not_found", fmt.Sprintf("no sequence named %q, and no history for it", name))
		return
	}
	out := make([]HistoryEvent, 0, len(evs))
	for _, e := range evs {
		if (specHash != "" && !strings.HasPrefix(e.SpecHash, specHash)) || (run != "" && e.Run != run) || len(out) == limit {
			continue
		}
		out = append(out, HistoryEvent{At: e.At, Kind: e.Kind, Run: e.Run, Item: e.Item, Action: e.Action,
			Message: e.Message, SpecHash: e.SpecHash, Fields: e.Fields})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sequence": name, "events": out})
}

// parseSince accepts RFC 3339 or a duration back from now ("2h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want RFC 3339 or a duration such as 2h, got %q", v)
	}
	return now.Add(-d), nil
}

// OverrideRequest is the body of suspend and resume.
type OverrideRequest struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	For    string `json:"for,omitempty"` // suspend only: a duration; empty = until resumed
}

// decodeBody reads a JSON body strictly into v and answers the error
// itself; an empty body is an error only when required.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, required bool) bool {
	if r.ContentLength == 0 && !required {
		return true
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) && !required {
		return true
	}
	if err == nil {
		// One value per body: a second one would be silently ignored.
		end := dec.InputOffset()
		_, terr := dec.Token()
		switch {
		case errors.Is(terr, io.EOF):
			return true
		case errors.As(terr, new(*http.MaxBytesError)):
			err = terr
		default:
			err = fmt.Errorf("unexpected data after the JSON value, which ends at byte %d", end)
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", MaxBodyBytes))
		return false
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("empty")
	}
	writeError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
	return false
}

func (s *Server) readOverride(w http.ResponseWriter, r *http.Request) (OverrideRequest, bool) {
	var req OverrideRequest
	if !decodeBody(w, r, &req, false) {
		return req, false
	}
	if req.By == "" {
		req.By = "api@" + r.RemoteAddr
	}
	return req, true
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	req, ok := s.readOverride(w, r)
	if !ok {
		return
	}
	var until time.Time
	if req.For != "" {
		d, err := time.ParseDuration(req.For)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("for: want a positive duration such as 2h, got %q", req.For))
			return
		}
		until = s.cfg.Now().Add(d)
	}
	s.command(w, r, name, s.cfg.Reconciler.Suspend(r.Context(), name, req.By, req.Reason, until))
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	req, ok := s.readOverride(w, r)
	if !ok {
		return
	}
	s.command(w, r, name, s.cfg.Reconciler.Resume(r.Context(), name, req.By, req.Reason))
}

// plan answers the ETA of a sequence's run in progress: when each of its
// remaining items starts and stops and when it ends, from its real
// progress and observed rates, under the simulator's assumptions for the
// rest (?unload-time=2s overrides the unload drain).
func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.cfg.Planner == nil {
		writeError(w, http.StatusNotImplemented, "not_implemented", "this server does not project sequences")
		return
	}
	a := reconcile.DefaultAssumptions()
	if v := r.URL.Query().Get("unload-time"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unload-time %q: want a duration such as 2s", v))
			return
		}
		a.UnloadTime = d
	}
	e, err := s.cfg.Planner.ETA(r.Context(), name, a)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, e)
	case errors.Is(err, reconcile.ErrUnknownSequence):
		writeError(w, http.StatusNotFound, "sequence_not_found", fmt.Sprintf("no sequence named %q", name))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the reconciler did not take the request in time")
	default:
		s.cfg.Logger.Error("plan failed", "sequence", name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.command(w, r, name, s.cfg.Reconciler.ReconcileNow(r.Context(), name))
}

func (s *Server) command(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case err == nil:
		st, _ := s.cfg.Reconciler.Sequence(name)
		writeJSON(w, http.StatusOK, st)
	case errors.Is(err, reconcile.ErrUnknownSequence):
		writeError(w, http.StatusNotFound, "sequence_not_found", fmt.Sprintf("no sequence named %q", name))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the reconciler did not take the command in time")
	default:
		s.cfg.Logger.Error("command failed", "sequence", name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// HaltRequest is the body of POST /api/v1/halt and DELETE /api/v1/halt.
type HaltRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
}

func (s *Server) haltState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Reconciler.HaltState())
}

func (s *Server) halt(w http.ResponseWriter, r *http.Request) {
	var req HaltRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "reason: say why dialing is halted; it is shown in status, history and /readyz")
		return
	}
	if req.By == "" {
		req.By = "api@" + r.RemoteAddr
	}
	s.haltCommand(w, s.cfg.Reconciler.Halt(r.Context(), req.By, req.Reason))
}

func (s *Server) unhalt(w http.ResponseWriter, r *http.Request) {
	var req HaltRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	if req.By == "" {
		req.By = "api@" + r.RemoteAddr
	}
	s.haltCommand(w, s.cfg.Reconciler.Unhalt(r.Context(), req.By))
}

func (s *Server) haltCommand(w http.ResponseWriter, err error) {
	st := s.cfg.Reconciler.HaltState()
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, st)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the reconciler did not take the command in time")
	case st.Halted:
		// Halted, but the halt could not be stored: dialing is stopped,
		// and the caller must know it will not survive a restart.
		writeError(w, http.StatusInternalServerError, "halt_not_durable", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func (s *Server) groups(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"campaignGroups": s.cfg.Reconciler.Groups()})
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
