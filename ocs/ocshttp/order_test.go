package ocshttp_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

// flaky fails every round trip while down is set, as an OCS that
// restarts does.
type flaky struct {
	next http.RoundTripper
	down atomic.Bool
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused")
	}
	return f.next.RoundTrip(r)
}

// An HTTP link has no connection to lose, so it announces the change
// itself: the loop must re-read its groups after OCS was unreachable.
func TestAnOCSThatStopsAnsweringOverHTTPIsAnnouncedDownThenUpInReceiveOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := ocssim.New(ocssim.Default())
		defer sim.Close()
		tr := &flaky{next: inMemory{sim.HTTPHandler()}}
		c, err := ocshttp.New("http://ocs.test:8090", ocshttp.Options{HTTPClient: &http.Client{Transport: tr},
			CampaignGroups: simGroups(), RequestTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(tg(101, 732)))
		if err != nil {
			t.Fatal(err)
		}
		tr.down.Store(true)
		if _, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(tg(101, 732))); !errors.Is(err, ocs.ErrDisconnected) {
			t.Fatalf("while down: %v", err)
		}
		tr.down.Store(false)
		again, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(tg(101, 732)))
		if err != nil {
			t.Fatal(err)
		}
		down, up := <-c.Events(), <-c.Events()
		if down.Type != ocs.LinkDown || up.Type != ocs.LinkUp {
			t.Fatalf("notices %s, %s; want LinkDown then LinkUp", down.Type, up.Type)
		}
		if !(first.Recv < down.Recv && down.Recv < up.Recv && up.Recv < again.Recv) {
			t.Errorf("stamps first %d, down %d, up %d, again %d: want receive order", first.Recv, down.Recv, up.Recv, again.Recv)
		}
	})
}

// The loop sends nothing while a link is down, so an HTTP link must find
// out by itself that OCS answers again.
func TestAnHTTPLinkThatWentDownProbesOCSAndAnnouncesItsReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := ocssim.New(ocssim.Default())
		defer sim.Close()
		tr := &flaky{next: inMemory{sim.HTTPHandler()}}
		c, err := ocshttp.New("http://ocs.test:8090", ocshttp.Options{HTTPClient: &http.Client{Transport: tr},
			CampaignGroups: simGroups(), RequestTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tr.down.Store(true)
		c.Request(context.Background(), ocs.NewGetCampaignStatus(tg(101, 732)))
		if m := <-c.Events(); m.Type != ocs.LinkDown {
			t.Fatalf("got %s, want LinkDown", m.Type)
		}
		time.Sleep(10 * time.Second)
		tr.down.Store(false)
		time.Sleep(30 * time.Second) // the probe backs off, 30 s at most
		synctest.Wait()
		select {
		case m := <-c.Events():
			if m.Type != ocs.LinkUp || !c.Up() {
				t.Errorf("got %s (up %v), want LinkUp", m.Type, c.Up())
			}
		default:
			t.Error("no LinkUp without a request: the link never noticed OCS was back")
		}
	})
}
