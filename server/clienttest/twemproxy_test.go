package clienttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The proxy's ejection settings, as the README's deployment shows them: a
// node that fails twice in a row is taken out of the ring for a minute
// (longer than this test), and its keys go to the remaining nodes.
const proxyConf = `segcache:
  listen: 127.0.0.1:%d
  hash: fnv1a_64
  distribution: ketama
  timeout: 5000
  auto_eject_hosts: true
  server_failure_limit: 2
  server_retry_timeout: 60000
  servers:
%s`

// rawConn is a pipelining text-protocol client.
type rawConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{nc, bufio.NewReader(nc), bufio.NewWriter(nc)}
}

func (c *rawConn) line() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(startTimeout))
	return c.r.ReadString('\n')
}

// getMulti sends one multi-get and returns the values found.
func (c *rawConn) getMulti(keys []string) (map[string]string, error) {
	c.w.WriteString("get " + strings.Join(keys, " ") + "\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for {
		l, err := c.line()
		if err != nil {
			return nil, err
		}
		if l == "END\r\n" {
			return out, nil
		}
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "VALUE" {
			return nil, fmt.Errorf("get: unexpected reply %q", l)
		}
		size, _ := strconv.Atoi(f[3])
		b := make([]byte, size+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return nil, err
		}
		out[f[1]] = string(b[:size])
	}
}

func keyOf(i int) string   { return fmt.Sprintf("key:%06d", i) }
func valueOf(i int) string { return fmt.Sprintf("value-%d-%s", i, strings.Repeat("v", i%50)) }

// TestTwemproxyCluster: three nodes behind nutcracker (ketama). 100,000
// keys go through the proxy and every answer is checked; each node holds
// a fair share; then one node stops and the proxy ejects it as
// configured, after which its keys are served by the other two.
func TestTwemproxyCluster(t *testing.T) {
	const keys = 100_000
	proxyBin := binary(t, "", "nutcracker")
	nodes := []*node{startNode(t), startNode(t), startNode(t)}

	var servers strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&servers, "   - %s:1 node%d\n", n.addr, i)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "nutcracker.yml")
	proxyPort, statsPort := freePort(t), freePort(t)
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(proxyConf, proxyPort, servers.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var proxyLog bytes.Buffer
	proxy := exec.CommandContext(ctx, proxyBin, "-c", conf, "-s", strconv.Itoa(statsPort), "-a", "127.0.0.1",
		"-i", "200", "-p", filepath.Join(dir, "pid"), "-o", filepath.Join(dir, "nutcracker.log"))
	proxy.Stdout, proxy.Stderr = &proxyLog, &proxyLog
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		proxy.Process.Kill()
		proxy.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "nutcracker.log"))
			t.Logf("nutcracker log:\n%s%s", proxyLog.String(), b)
		}
	}()
	proxyAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(proxyPort))
	waitListening(t, proxyAddr)

	// Store every key through the proxy: 4 connections, pipelined in
	// batches of 500, every reply checked.
	const workers, batch = 4, 500
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		c := dialRaw(t, proxyAddr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := w * batch; start < keys; start += workers * batch {
				end := min(start+batch, keys)
				for i := start; i < end; i++ {
					v := valueOf(i)
					fmt.Fprintf(c.w, "set %s %d 0 %d\r\n%s\r\n", keyOf(i), i%7, len(v), v)
				}
				if err := c.w.Flush(); err != nil {
					errs <- err
					return
				}
				for i := start; i < end; i++ {
					if l, err := c.line(); err != nil || l != "STORED\r\n" {
						errs <- fmt.Errorf("set %s through the proxy: %q %v", keyOf(i), l, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Read every key back through the proxy (multi-gets, which the proxy
	// splits by node and merges).
	pc := dialRaw(t, proxyAddr)
	for start := 0; start < keys; start += 100 {
		var ks []string
		for i := start; i < min(start+100, keys); i++ {
			ks = append(ks, keyOf(i))
		}
		got, err := pc.getMulti(ks)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < min(start+100, keys); i++ {
			if got[keyOf(i)] != valueOf(i) {
				t.Fatalf("get %s through the proxy = %q, want %q", keyOf(i), got[keyOf(i)], valueOf(i))
			}
		}
	}

	// Each node holds its share (ketama over three equal nodes: about a
	// third each), and together exactly the keys stored.
	total := 0
	for i, n := range nodes {
		items := nodeItems(t, n)
		t.Logf("node%d (%s): %d items (%.1f%%)", i, n.addr, items, 100*float64(items)/keys)
		if items < keys/5 || items > keys/2 {
			t.Errorf("node%d holds %d of %d keys: not spread", i, items, keys)
		}
		total += items
	}
	if total != keys {
		t.Fatalf("nodes hold %d items together, want %d", total, keys)
	}

	// Which sample keys live on the node we stop?
	victim := nodes[2]
	var moved, stayed []int
	vc := dialRaw(t, victim.addr)
	for start := 0; start < 2000 && (len(moved) < 20 || len(stayed) < 20); start += 100 {
		var ks []string
		for i := start; i < start+100; i++ {
			ks = append(ks, keyOf(i))
		}
		got, err := vc.getMulti(ks)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < start+100; i++ {
			if _, ok := got[keyOf(i)]; ok {
				moved = append(moved, i)
			} else {
				stayed = append(stayed, i)
			}
		}
	}
	vc.nc.Close()
	victim.stop()

	// The proxy reports errors for the stopped node's keys until it has
	// seen server_failure_limit failures, then ejects the node: its keys
	// rehash to the others (a miss, then stores and reads work).
	sawError := false
	k := keyOf(moved[0])
	for attempt := 0; ; attempt++ {
		got, err := pc.getMulti([]string{k})
		if err == nil {
			if len(got) != 0 {
				t.Fatalf("key of the stopped node still found: %v", got)
			}
			break
		}
		if !strings.Contains(err.Error(), "SERVER_ERROR") {
			t.Fatalf("get %s after the node stopped: %v", k, err)
		}
		sawError = true
		t.Logf("before ejection: %v", err)
		if attempt == 50 {
			t.Fatalf("node not ejected after %d failed requests", attempt)
		}
		pc = dialRaw(t, proxyAddr) // an error reply may leave the stream mid-response
		time.Sleep(100 * time.Millisecond)
	}
	if !sawError {
		t.Errorf("the proxy answered a stopped node's key without any error: was it ever on that node?")
	}
	for _, i := range moved[:20] {
		v := "rehomed-" + valueOf(i)
		fmt.Fprintf(pc.w, "set %s 0 0 %d\r\n%s\r\n", keyOf(i), len(v), v)
		pc.w.Flush()
		if l, err := pc.line(); err != nil || l != "STORED\r\n" {
			t.Fatalf("set %s after ejection: %q %v", keyOf(i), l, err)
		}
	}
	ks := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, keyOf(i))
		}
		return out
	}
	got, err := pc.getMulti(append(ks(moved[:20]), ks(stayed[:20])...))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range moved[:20] {
		if got[keyOf(i)] != "rehomed-"+valueOf(i) {
			t.Fatalf("rehomed key %s = %q", keyOf(i), got[keyOf(i)])
		}
	}
	for _, i := range stayed[:20] {
		if got[keyOf(i)] != valueOf(i) {
			t.Fatalf("key %s of a live node = %q after the ejection, want %q", keyOf(i), got[keyOf(i)], valueOf(i))
		}
	}
	ejected := proxyEjections(t, statsPort)
	t.Logf("proxy stats: server_ejects=%d", ejected)
	if ejected < 1 {
		t.Errorf("proxy stats report no ejection")
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		nc, err := net.Dial("tcp", addr)
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %v: %v", addr, startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var currItems = regexp.MustCompile(`STAT curr_items (\d+)\r\n`)

func nodeItems(t *testing.T, n *node) int {
	t.Helper()
	c := dialRaw(t, n.addr)
	defer c.nc.Close()
	c.w.WriteString("stats\r\n")
	c.w.Flush()
	var all strings.Builder
	for {
		l, err := c.line()
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(l)
		if l == "END\r\n" {
			break
		}
	}
	m := currItems.FindStringSubmatch(all.String())
	if m == nil {
		t.Fatalf("no curr_items in stats of %s", n.addr)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// proxyEjections reads the proxy's stats (JSON on its stats port) until
// the pool's server_ejects counter is aggregated, or gives up.
func proxyEjections(t *testing.T, port int) int {
	deadline := time.Now().Add(startTimeout)
	for {
		nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			nc.SetReadDeadline(time.Now().Add(startTimeout))
			b, _ := io.ReadAll(nc)
			nc.Close()
			var stats map[string]any
			if json.Unmarshal(b, &stats) == nil {
				if pool, ok := stats["segcache"].(map[string]any); ok {
					if n, ok := pool["server_ejects"].(float64); ok && n > 0 {
						return int(n)
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(200 * time.Millisecond)
	}
}
