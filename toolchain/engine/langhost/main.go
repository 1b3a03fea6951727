// Command pulumi-language-python is govcloud's Python language host for the
// Pulumi engine.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not served by the Go module proxy this project can reach, so this is a
// small host of our own. It speaks the LanguageRuntime gRPC protocol from
// github.com/pulumi/pulumi/sdk/v3, finds the Python interpreter with the SDK's
// python/toolchain package (virtualenv, poetry, uv), and runs the program
// through the `pulumi-language-python-exec` driver script that ships in the
// same sdk/v3 module (installed next to this binary by scripts/install-pulumi).
//
// What it supports: Handshake, GetPluginInfo, GetRequiredPlugins,
// GetRequiredPackages, Run, RunPlugin (policy packs and plugins written in
// Python, plugin.go), InstallDependencies, About and GetProgramDependencies.
// Code generation, packing and linking (used by `pulumi new`, `pulumi convert`,
// `pulumi package add`) are not implemented.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.0.0-dev"

// execScriptName is the driver script that configures the Python SDK and runs the program.
const execScriptName = "pulumi-language-python-exec"

// exitCodeUserActionable is the exit code the driver uses after it has already shown an error to the user.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	engineAddress string
	execScript    string

	mu               sync.Mutex
	rootDirectory    string
	programDirectory string
}

func main() {
	// The engine starts language plugins as `pulumi-language-python [flags] ENGINE_ADDRESS`.
	// Flags (e.g. -tracing, -root, -v) are accepted and ignored; the address is the last positional argument.
	var engineAddress string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engineAddress = a
		}
	}

	self, err := os.Executable()
	if err != nil {
		fatalf("cannot locate own executable: %v", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	execScript := os.Getenv("PULUMI_LANGUAGE_PYTHON_EXEC")
	if execScript == "" {
		execScript = filepath.Join(filepath.Dir(self), execScriptName)
	}
	if _, err := os.Stat(execScript); err != nil {
		fatalf("driver script %s not found next to the language host (%v); rerun scripts/install-pulumi", execScript, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			fatalf("could not start health check for engine at %s: %v", engineAddress, err)
		}
	}

	h := &host{engineAddress: engineAddress, execScript: execScript}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Cancel: ctxDone(ctx),
	})
	if err != nil {
		fatalf("could not start language host RPC server: %v", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatalf("language host RPC server stopped: %v", err)
	}
}

func ctxDone(ctx context.Context) chan bool {
	ch := make(chan bool, 1)
	go func() {
		<-ctx.Done()
		ch <- true
	}()
	return ch
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	h.rootDirectory = req.GetRootDirectory()
	h.programDirectory = req.GetProgramDirectory()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// resolveToolchain picks the Python interpreter for a program from its runtime options
// (`runtime.options.virtualenv` / `toolchain` in Pulumi.yaml). A plugin (as upstream: not a
// program, not a policy pack) without a virtualenv option under pip gets its `venv` directory,
// never the ambient Python.
func (h *host) resolveToolchain(info *pulumirpc.ProgramInfo, plugin bool) (toolchain.Toolchain, error) {
	root, progDir := "", ""
	var opts map[string]any
	if info != nil {
		root, progDir = info.GetRootDirectory(), info.GetProgramDirectory()
		opts = info.GetOptions().AsMap()
	}
	h.mu.Lock()
	if root == "" {
		root = h.rootDirectory
	}
	if progDir == "" {
		progDir = h.programDirectory
	}
	h.mu.Unlock()
	if root == "" {
		root, _ = os.Getwd()
	}
	if progDir == "" {
		progDir = root
	}
	venv, _ := opts["virtualenv"].(string)
	tcName, _ := opts["toolchain"].(string)
	po := toolchain.PythonOptions{Root: root, ProgramDir: progDir, Virtualenv: venv}
	switch strings.ToLower(tcName) {
	case "", "auto":
		po.Toolchain = toolchain.Auto
	case "pip":
		po.Toolchain = toolchain.Pip
	case "poetry":
		po.Toolchain = toolchain.Poetry
	case "uv":
		po.Toolchain = toolchain.Uv
	default:
		return nil, fmt.Errorf("unsupported python toolchain %q (use pip, poetry or uv)", tcName)
	}
	if plugin && po.Virtualenv == "" && (po.Toolchain == toolchain.Auto || po.Toolchain == toolchain.Pip) {
		po.Virtualenv = "venv"
	}
	return toolchain.ResolveToolchain(po)
}

// pluginJSON is the pulumi-plugin.json file that a Pulumi provider SDK ships inside its Python package.
type pluginJSON struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

// listPluginsScript prints the pulumi-plugin.json of every installed distribution as a JSON list.
const listPluginsScript = `
import json, importlib.metadata as md
out = []
for dist in md.distributions():
    for f in dist.files or []:
        if f.name == "pulumi-plugin.json":
            try:
                out.append(json.loads(f.read_text()))
            except Exception:
                pass
print(json.dumps(out))
`

func (h *host) requiredPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]pluginJSON, error) {
	tc, err := h.resolveToolchain(info, false)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Python packages with %s: %w: %s", cmd.Path, err, stderr.String())
	}
	var all []pluginJSON
	if err := json.Unmarshal(out, &all); err != nil {
		return nil, fmt.Errorf("parsing Python package list: %w", err)
	}
	seen := map[string]bool{}
	var result []pluginJSON
	for _, p := range all {
		if !p.Resource || p.Name == "" {
			continue
		}
		key := p.Name + "@" + p.Version
		if seen[key] {
			continue
		}
		seen[key] = true
		result = append(result, p)
	}
	return result, nil
}

func semverTag(v string) string {
	if v == "" || strings.HasPrefix(v, "v") {
		return v
	}
	return "v" + v
}

func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	plugins, err := h.requiredPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range plugins {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: "resource", Version: semverTag(p.Version), Server: p.Server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	plugins, err := h.requiredPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range plugins {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: p.Name, Kind: "resource", Version: semverTag(p.Version), Server: p.Server,
		})
	}
	return resp, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	tc, err := h.resolveToolchain(info, false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	program := req.GetProgram()
	if info != nil && info.GetEntryPoint() != "" {
		program = info.GetEntryPoint()
		if !filepath.IsAbs(program) && info.GetProgramDirectory() != "" {
			program = filepath.Join(info.GetProgramDirectory(), program)
		}
	}
	if program == "" {
		program = "."
	}
	root := ""
	if info != nil {
		root = info.GetRootDirectory()
	}

	args := []string{"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--parallel", fmt.Sprint(req.GetParallel()),
		"--dry_run", fmt.Sprint(req.GetDryRun()),
	}
	if req.GetPwd() != "" {
		args = append(args, "--pwd", req.GetPwd())
	}
	if root != "" {
		args = append(args, "--root_directory", root)
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	config, err := configEnv(req.GetConfig(), req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(append(env, config...), "PYTHONUNBUFFERED=1")
	if req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run %s): %v",
			cmd.Path, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// configEnv is the stack config as the Python SDK reads it: PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS (JSON).
func configEnv(config map[string]string, secretKeys []string) ([]string, error) {
	if config == nil {
		config = map[string]string{}
	}
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	return []string{"PULUMI_CONFIG=" + string(configJSON), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretJSON)}, nil
}

// streamWriter forwards InstallDependencies output to the engine.
type streamWriter struct {
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	msg := &pulumirpc.InstallDependenciesResponse{Stdout: data}
	if w.stderr {
		msg = &pulumirpc.InstallDependenciesResponse{Stderr: data}
	}
	if err := w.stream.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	ctx := stream.Context()
	tc, err := h.resolveToolchain(req.GetInfo(), false)
	if err != nil {
		return err
	}
	dir := req.GetDirectory()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	var out, errw io.Writer = streamWriter{stream: stream}, streamWriter{stream: stream, stderr: true}
	return tc.InstallDependencies(ctx, dir, req.GetUseLanguageVersionTools(), true, out, errw)
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := h.resolveToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	about, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: about.PythonExecutable,
		Version:    about.PythonVersion.String(),
		Metadata:   map[string]string{"host": "govcloud pulumi-language-python " + Version},
	}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := h.resolveToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	deps, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
