package main

import (
	"bufio"
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

// floorEnv makes the orgpeer binary the benchmark's floor server instead
// of a command: its value is the body to serve.
const floorEnv = "ORGPEER_BENCH_FLOOR_BODY"

// The floor server answers GET /v1/view with a fixed copy of a node's
// answer and does nothing else. The benchmark measures it in the same
// window and at the same rate as the nodes: its p99 is what the machine
// allows at that moment (other processes, the hypervisor taking the vCPUs,
// the nodes' own work waves), and the nodes' p99 above it is theirs. It is
// a process of its own with one P, as a node is.
func serveFloor(ctx context.Context, body string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})}
	fmt.Fprintln(stdout, ln.Addr())
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorProc is a running floor server.
type floorProc struct {
	cmd     *exec.Cmd
	addr    string
	drained chan struct{} // closed when the process's stdout has ended
}

// startFloor starts bin as a floor server serving body and returns once it
// listens.
func startFloor(ctx context.Context, bin string, body []byte) (*floorProc, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), floorEnv+"="+string(body), "GOMAXPROCS=1")
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
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err == nil && !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		err = fmt.Errorf("%s/v1/view: not JSON", api)
	}
	return b, err
}
