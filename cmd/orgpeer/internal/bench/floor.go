package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// FloorCommand is the hidden subcommand of the orgpeer binary that runs
// ServeFloor: the floor server is the same binary, started by the benchmark.
const FloorCommand = "bench-floor"

// ServeFloor reads a body from in, prints the loopback address it listens
// on to out, and answers every GET /v1/view with that body until ctx ends.
//
// The benchmark measures this server in the same window and at the same
// rate as the nodes: its p99 is what the machine allows at that moment
// (other processes, the hypervisor, the nodes' own work), and the nodes'
// p99 above it is theirs. It runs as a process of its own with one P, as a
// node does.
func ServeFloor(ctx context.Context, in io.Reader, out io.Writer) error {
	body, err := io.ReadAll(io.LimitReader(in, maxViewBody))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	fmt.Fprintln(out, ln.Addr())
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// maxViewBody bounds a node's /v1/view answer that the floor server copies.
const maxViewBody = 1 << 20

// floorProc is a running floor server.
type floorProc struct {
	cmd     *exec.Cmd
	addr    string
	drained chan struct{} // closed when the process's stdout has ended
}

// startFloor starts bin as a floor server serving body and returns once it
// listens.
func startFloor(ctx context.Context, bin string, body []byte) (*floorProc, error) {
	cmd := exec.Command(bin, FloorCommand)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &floorProc{cmd: cmd, drained: make(chan struct{})}
	line := make(chan string, 1)
	go func() { // reads stdout to its end, which stop waits for
		defer close(f.drained)
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		io.Copy(io.Discard, out)
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case f.addr = <-line:
	case <-f.drained: // exited without a word
		select {
		case f.addr = <-line:
		default:
		}
	case <-ctx.Done():
	case <-t.C:
	}
	if f.addr == "" {
		f.stop()
		return nil, fmt.Errorf("floor server did not start")
	}
	return f, nil
}

// stop ends the floor server and waits for it: interrupted, killed if it
// has not ended within 5 s.
func (f *floorProc) stop() {
	f.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-f.drained:
	case <-t.C:
		f.cmd.Process.Kill()
		<-f.drained
	}
	f.cmd.Wait()
}

// viewBody fetches a node's GET /v1/view answer.
func viewBody(ctx context.Context, hc *http.Client, api string) ([]byte, error) {
	body, err := getOK(ctx, hc, api, "/v1/view")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxViewBody))
	if err == nil && !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		err = fmt.Errorf("%s/v1/view: not JSON", api)
	}
	return b, err
}
