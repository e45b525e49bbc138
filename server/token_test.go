package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
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
	if testing.Short() || raceEnabled {
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

// TestConditionalDeleteRemovesOnlyWhatItRead races a writer of one key
// against a connection that reads the key with its token and removes it
// conditionally on that token: md with C, a binary delete with a CAS, a
// cas with a past exptime, and mg with T-1 (a touch to the past returns
// the item and removes it). The writer reads its key back after each set:
// it must see its own value until the key is gone, and a value it saw go
// must be one the other connection read and removed; a conditional delete
// never removes a write that came after the read of its token.
func TestConditionalDeleteRemovesOnlyWhatItRead(t *testing.T) {
	rounds := 20000
	if testing.Short() || raceEnabled {
		rounds = 2000
	}
	for _, tc := range []struct {
		name string
		// remove reads k with its token and removes it with that token;
		// it returns the value removed, "" when it removed nothing.
		remove func(c *client) (string, error)
	}{
		{"md C", func(c *client) (string, error) {
			return readThenRemove(c, func(tok uint64) string { return fmt.Sprintf("md k C%d\r\n", tok) }, "HD\r\n", "EX\r\n")
		}},
		{"cas with a past exptime", func(c *client) (string, error) {
			return readThenRemove(c, func(tok uint64) string { return fmt.Sprintf("cas k 0 -1 1 %d\r\nx\r\n", tok) }, "STORED\r\n", "EXISTS\r\n")
		}},
		{"mg T-1", func(c *client) (string, error) {
			if _, err := io.WriteString(c.nc, "mg k v T-1\r\n"); err != nil {
				return "", err
			}
			l, err := c.r.ReadString('\n')
			if err != nil || l == "EN\r\n" {
				return "", err
			}
			var n int
			if _, err := fmt.Sscanf(l, "VA %d\r\n", &n); err != nil {
				return "", fmt.Errorf("mg reply %q", l)
			}
			b := make([]byte, n+2)
			_, err = io.ReadFull(c.r, b)
			return string(b[:n]), err
		}},
		{"binary delete with a CAS", func(c *client) (string, error) {
			if _, err := c.nc.Write(pkt{Op: binproto.OpGet, Key: "k"}.bytes()); err != nil {
				return "", err
			}
			p, tok, err := readPacket(c.r)
			if err != nil || p.Status == binproto.StatusNotFound {
				return "", err
			}
			if _, err := c.nc.Write(pkt{Op: binproto.OpDelete, Key: "k", CAS: tok}.bytes()); err != nil {
				return "", err
			}
			d, _, err := readPacket(c.r)
			switch {
			case err != nil:
				return "", err
			case d.Status == binproto.StatusOK:
				return p.Value, nil
			case d.Status == binproto.StatusExists || d.Status == binproto.StatusNotFound:
				return "", nil
			}
			return "", fmt.Errorf("delete: status %#x", d.Status)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			writer, remover := ts.dial(), ts.dial()
			var writing atomic.Bool
			writing.Store(true)
			var removed []string
			var removeErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				for writing.Load() {
					v, err := tc.remove(remover)
					if err != nil {
						removeErr = err
						return
					}
					if v != "" {
						removed = append(removed, v)
					}
				}
			})
			var missed []string
			err := func() error {
				defer writing.Store(false)
				for i := range rounds {
					v := fmt.Sprintf("v%d", i)
					if _, err := fmt.Fprintf(writer.nc, "set k 0 0 %d\r\n%s\r\n", len(v), v); err != nil {
						return err
					}
					if l, err := writer.r.ReadString('\n'); err != nil || l != "STORED\r\n" {
						return fmt.Errorf("set: %q, %v", l, err)
					}
					for range 4 {
						got, found, err := textGet(writer, "k")
						if err != nil {
							return err
						}
						if !found {
							missed = append(missed, v)
							break
						}
						if got != v {
							return fmt.Errorf("read %q after setting %q", got, v)
						}
					}
				}
				return nil
			}()
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if removeErr != nil {
				t.Fatal(removeErr)
			}
			seen := map[string]bool{}
			for _, v := range removed {
				if seen[v] {
					t.Fatalf("%q was removed twice", v)
				}
				seen[v] = true
			}
			for _, v := range missed {
				if !seen[v] {
					t.Fatalf("%q vanished after it was set, but the remover never read it (%d removed, %d seen gone)", v, len(removed), len(missed))
				}
			}
			if len(removed) == 0 {
				t.Fatal("nothing was removed: the race was not run")
			}
		})
	}
}

// readThenRemove reads k with mg and sends remove(token); ok and exists
// are the replies for removed and for changed since.
func readThenRemove(c *client, remove func(token uint64) string, ok, exists string) (string, error) {
	if _, err := io.WriteString(c.nc, "mg k v c\r\n"); err != nil {
		return "", err
	}
	l, err := c.r.Peek(2)
	if err != nil {
		return "", err
	}
	if string(l) == "EN" {
		_, err := c.r.ReadString('\n')
		return "", err
	}
	tok, v, err := readMetaValue(c.r)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(c.nc, remove(tok)); err != nil {
		return "", err
	}
	switch r, err := c.r.ReadString('\n'); {
	case err != nil:
		return "", err
	case r == ok:
		return v, nil
	case r == exists, r == "NF\r\n", r == "NOT_FOUND\r\n":
		return "", nil
	default:
		return "", fmt.Errorf("reply %q to %q", r, remove(tok))
	}
}

// textGet reads k with get; it returns errors instead of failing the test.
func textGet(c *client, k string) (string, bool, error) {
	if _, err := io.WriteString(c.nc, "get "+k+"\r\n"); err != nil {
		return "", false, err
	}
	l, err := c.r.ReadString('\n')
	if err != nil || l == "END\r\n" {
		return "", false, err
	}
	var key string
	var flags, n int
	if _, err := fmt.Sscanf(l, "VALUE %s %d %d\r\n", &key, &flags, &n); err != nil {
		return "", false, fmt.Errorf("get reply %q", l)
	}
	b := make([]byte, n+7) // the value, \r\n, END\r\n
	if _, err := io.ReadFull(c.r, b); err != nil {
		return "", false, err
	}
	return string(b[:n]), true, nil
}

// TestTouchKeepsTheCASUnique: touch, gat and mg with T leave the item's
// CAS unique as it was, as memcached's do, so a cas with the unique read
// before the touch stores. Only a number incr changed in place gets a new
// unique when the touch gives it an expiry (the engine keeps the number's
// version in the number's item, which a value with an expiry is not), and
// then the unique from before the touch is refused.
func TestTouchKeepsTheCASUnique(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	unique := func(key string) string {
		t.Helper()
		c.send("gets " + key + "\r\n")
		var k string
		var flags, n int
		var cas uint64
		if _, err := fmt.Sscanf(c.line(), "VALUE %s %d %d %d\r\n", &k, &flags, &n, &cas); err != nil {
			t.Fatalf("gets %s: %v", key, err)
		}
		c.readN(n + 2)
		if end := c.line(); end != "END\r\n" {
			t.Fatalf("gets %s: %q after the value", key, end)
		}
		return strconv.FormatUint(cas, 10)
	}
	runSteps(t, c, []step{{"set k 7 0 1\r\nv\r\n", "STORED\r\n"}})
	before := unique("k")
	runSteps(t, c, []step{
		{"touch k 3600\r\n", "TOUCHED\r\n"},
		{"gats 3600 k\r\n", "VALUE k 7 1 " + before + "\r\nv\r\nEND\r\n"},
		{"mg k T60 c\r\n", "HD c" + before + "\r\n"},
		{"touch k 0\r\n", "TOUCHED\r\n"},
		{"cas k 7 0 1 " + before + "\r\nw\r\n", "STORED\r\n"},
	})

	runSteps(t, c, []step{
		{"set n 0 0 1\r\n5\r\n", "STORED\r\n"},
		{"incr n 1\r\n", "6\r\n"},
		{"touch n 0\r\n", "TOUCHED\r\n"}, // still a number: the unique stays
	})
	counted := unique("n")
	runSteps(t, c, []step{{"touch n 0\r\n", "TOUCHED\r\n"}})
	if got := unique("n"); got != counted {
		t.Errorf("touch to no expiry changed a counter's unique %s to %s", counted, got)
	}
	runSteps(t, c, []step{{"touch n 3600\r\n", "TOUCHED\r\n"}})
	if got := unique("n"); got == counted {
		t.Errorf("a counter changed in place kept its unique %s given an expiry", got)
	}
	runSteps(t, c, []step{{"cas n 0 0 1 " + counted + "\r\n9\r\n", "EXISTS\r\n"}})
}
