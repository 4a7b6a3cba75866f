package ocssim

import (
	"net"

	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// DN is a Communication DN that several simulated OCS servers watch, as
// T-Server distributes a UserEvent to every application registered on the
// DN: each request a client puts on it reaches every OCS (each applies its
// own target check and connection rule), and every answer and event of
// every OCS reaches every client.
type DN struct{ sims []*Sim }

// NewDN puts sims on one DN. Give each a distinct AppDBID.
func NewDN(sims ...*Sim) *DN { return &DN{sims: sims} }

// Serve speaks the bridge framing on nc until it closes.
func (d *DN) Serve(nc net.Conn) {
	c := bridge.NewConn(nc)
	var attached []*Sim
	for _, s := range d.sims {
		if s.attach(c) {
			attached = append(attached, s)
		}
	}
	defer func() {
		for _, s := range attached {
			s.detach(c)
		}
		c.Close()
	}()
	for {
		m, err := c.Receive()
		if err != nil {
			if len(attached) > 0 {
				attached[0].logReceiveError(err)
			}
			return
		}
		for _, s := range attached {
			s.handle(c, m)
		}
	}
}
