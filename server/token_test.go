package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/segcache/segcache/server/internal/binproto"
)

// TestReturnedTokenIsTheWritersOwn has connections write one key at once
// and read it back after each write, through the replies that carry the
// new item's CAS token: binary set and increment, and meta ms and ma with
// c. The token a write returns must be its own item's: when the read back
// shows that token, it must show the value this connection wrote. A token
// read back after the write (a second lookup) is sometimes another
// connection's, whose cas would then overwrite a value it never saw.
func TestReturnedTokenIsTheWritersOwn(t *testing.T) {
	const conns = 2
	rounds := 20000
	if testing.Short() {
		rounds = 2000
	}
	for _, tc := range []struct {
		name  string
		setup string // text commands run first, one reply line each
		// round sends one write and one read of key k, and returns the
		// token and value the write reported and those the read saw.
		round func(c *client, id, i int) (wrote, read uint64, own, seen string, err error)
	}{
		{"binary set", "", binSetRound},
		{"binary increment", "set n 0 0 1\r\n0\r\n", binIncrRound},
		{"meta set", "", metaSetRound},
		{"meta arithmetic", "set n 0 0 1\r\n0\r\n", metaArithRound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			if tc.setup != "" {
				setup := ts.dial()
				runSteps(t, setup, []step{{tc.setup, "STORED\r\n"}})
			}
			clients := make([]*client, conns)
			for i := range clients {
				clients[i] = ts.dial()
			}
			errs := make(chan error, conns)
			var wg sync.WaitGroup
			for id, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range rounds {
						wrote, read, own, seen, err := tc.round(c, id, i)
						switch {
						case err != nil:
						case wrote == 0:
							err = fmt.Errorf("the write returned no token")
						case wrote == read && seen != own:
							err = fmt.Errorf("the write returned token %d, which the read back shows on %q, not on the value written, %q", wrote, seen, own)
						}
						if err != nil {
							errs <- fmt.Errorf("connection %d, round %d: %w", id, i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func binSetRound(c *client, id, i int) (wrote, read uint64, own, seen string, err error) {
	own = fmt.Sprintf("c%d-%d", id, i)
	req := pkt{Op: binproto.OpSet, Extras: setExtras(0, 0), Key: "k", Value: own}.bytes()
	req = append(req, pkt{Op: binproto.OpGet, Key: "k"}.bytes()...)
	if _, err = c.nc.Write(req); err != nil {
		return
	}
	var p pkt
	if p, wrote, err = readPacket(c.r); err == nil && p.Status != binproto.StatusOK {
		err = fmt.Errorf("set: status %#x", p.Status)
	}
	if err != nil {
		return
	}
	if p, read, err = readPacket(c.r); err == nil && p.Status != binproto.StatusOK {
		err = fmt.Errorf("get: status %#x", p.Status)
	}
	return wrote, read, own, p.Value, err
}

func binIncrRound(c *client, id, i int) (wrote, read uint64, own, seen string, err error) {
	req := pkt{Op: binproto.OpIncrement, Extras: arithExtras(1, 0, 0xffffffff), Key: "n"}.bytes()
	req = append(req, pkt{Op: binproto.OpGet, Key: "n"}.bytes()...)
	if _, err = c.nc.Write(req); err != nil {
		return
	}
	var p pkt
	if p, wrote, err = readPacket(c.r); err == nil && (p.Status != binproto.StatusOK || len(p.Value) != 8) {
		err = fmt.Errorf("increment: status %#x, body %q", p.Status, p.Value)
	}
	if err != nil {
		return
	}
	own = strconv.FormatUint(binary.BigEndian.Uint64([]byte(p.Value)), 10)
	if p, read, err = readPacket(c.r); err == nil && p.Status != binproto.StatusOK {
		err = fmt.Errorf("get: status %#x", p.Status)
	}
	return wrote, read, own, p.Value, err
}

func metaSetRound(c *client, id, i int) (wrote, read uint64, own, seen string, err error) {
	own = fmt.Sprintf("c%d-%d", id, i)
	if _, err = fmt.Fprintf(c.nc, "ms k %d c\r\n%s\r\nmg k v c\r\n", len(own), own); err != nil {
		return
	}
	var l string
	if l, err = c.r.ReadString('\n'); err != nil {
		return
	}
	if _, err = fmt.Sscanf(l, "HD c%d\r\n", &wrote); err != nil {
		err = fmt.Errorf("ms reply %q: %v", l, err)
		return
	}
	read, seen, err = readMetaValue(c.r)
	return wrote, read, own, seen, err
}

func metaArithRound(c *client, id, i int) (wrote, read uint64, own, seen string, err error) {
	if _, err = io.WriteString(c.nc, "ma n v c\r\nmg n v c\r\n"); err != nil {
		return
	}
	if wrote, own, err = readMetaValue(c.r); err != nil {
		return
	}
	read, seen, err = readMetaValue(c.r)
	return wrote, read, own, seen, err
}

// readMetaValue reads "VA <len> c<token>" and the value after it.
func readMetaValue(r *bufio.Reader) (token uint64, value string, err error) {
	l, err := r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	var n int
	if _, err := fmt.Sscanf(l, "VA %d c%d\r\n", &n, &token); err != nil {
		return 0, "", fmt.Errorf("reply %q: %v", l, err)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, "", err
	}
	return token, string(b[:n]), nil
}

// readPacket is client.readPkt for a goroutine other than the test's: it
// returns its errors instead of failing the test.
func readPacket(r *bufio.Reader) (pkt, uint64, error) {
	hb := make([]byte, binproto.HeaderLen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return pkt{}, 0, err
	}
	if hb[0] != binproto.MagicResponse {
		return pkt{}, 0, fmt.Errorf("response magic %#x", hb[0])
	}
	klen, elen := int(binary.BigEndian.Uint16(hb[2:])), int(hb[4])
	body := make([]byte, binary.BigEndian.Uint32(hb[8:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return pkt{}, 0, err
	}
	cas := binary.BigEndian.Uint64(hb[16:])
	return pkt{
		Op: binproto.Opcode(hb[1]), Status: binproto.Status(binary.BigEndian.Uint16(hb[6:])),
		Extras: string(body[:elen]), Key: string(body[elen : elen+klen]), Value: string(body[elen+klen:]),
		HasCAS: cas != 0, Opaque: binary.BigEndian.Uint32(hb[12:]),
	}, cas, nil
}
