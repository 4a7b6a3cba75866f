package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The API listens on loopback without a token by default, so any web page
// the operator opens can reach it: by a "simple" cross-site request (a
// text/plain POST needs no preflight) or by DNS rebinding (a name of the
// attacker's that resolves to 127.0.0.1 makes the page same-origin with
// the daemon). These checks close both doors before any handler runs.

// hostAllowed reports whether the Host header names this server: a name
// from Config.AllowedHosts, the IP the connection arrived on, or a
// loopback name when it arrived on loopback. A rebinding page always
// sends its own name, which is none of these.
func (s *Server) hostAllowed(r *http.Request) bool {
	host, port := splitHost(r.Host)
	if host == "" {
		return false
	}
	if s.allowedName(host, port) {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	lhost, lport, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	if port != "" && port != lport {
		return false
	}
	lip := net.ParseIP(lhost)
	if lip == nil {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.Equal(lip) || (lip.IsLoopback() && ip.IsLoopback())
	}
	return lip.IsLoopback() && host == "localhost"
}

// allowedName matches host[:port] against Config.AllowedHosts; an entry
// without a port matches any port, as behind a proxy the port the client
// used is not the one the daemon listens on.
func (s *Server) allowedName(host, port string) bool {
	for _, a := range s.cfg.AllowedHosts {
		ah, ap := splitHost(a)
		if ah == host && (ap == "" || ap == port) {
			return true
		}
	}
	return false
}

// splitHost lowercases a Host value and splits off its port ("" when
// absent); IPv6 literals lose their brackets.
func splitHost(hostport string) (host, port string) {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.TrimSuffix(h, "."), p
	}
	return strings.TrimSuffix(strings.Trim(hostport, "[]"), "."), ""
}

// crossSite explains why a state-changing request comes from another site,
// or returns "". Browsers send Sec-Fetch-Site (recent ones) and Origin
// (all of them, on every POST), so either one that points elsewhere is
// enough to refuse; tools such as curl send neither and pass.
func (s *Server) crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		// same-site still covers another port on localhost: a dev
		// server's page is not this daemon.
		return "Sec-Fetch-Site is " + site
	}
	origin, ok := r.Header["Origin"]
	if !ok {
		return ""
	}
	if len(origin) != 1 || !s.ownOrigin(r, origin[0]) {
		return fmt.Sprintf("Origin %q is not this server", strings.Join(origin, ", "))
	}
	return ""
}

// ownOrigin reports whether origin is scheme://host of the request's own
// Host or of a configured name. https is accepted too, for a TLS proxy in
// front of the daemon.
func (s *Server) ownOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false // includes "null", sent by sandboxed frames and file: pages
	}
	oh, op := splitHost(u.Host)
	rh, rp := splitHost(r.Host)
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if op == "" {
		op = def
	}
	if rp == "" {
		rp = def
	}
	if oh == rh && op == rp {
		return true
	}
	return s.allowedName(oh, op)
}

// jsonContentType checks that a state-changing request says it carries
// JSON. Browsers can send text/plain, form and multipart bodies cross-site
// without asking; application/json needs a CORS preflight this server
// never grants. So it is required even where the body is optional
// (resume, reconcile): an empty body must still say application/json.
func jsonContentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "Content-Type is missing: state-changing requests must send application/json, even with an empty body"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Sprintf("Content-Type %q: state-changing requests must send application/json", ct)
	}
	return ""
}

// safeMethod: requests that change nothing and that browsers send
// cross-site without restriction anyway.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// bearerToken returns the credentials of an "Authorization: Bearer X"
// header; the scheme is case-insensitive (RFC 7235 §2.1).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

// allowedMethods lists the methods the mux has a route for at r's path,
// for a 405's Allow header; none means the path does not exist.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}
