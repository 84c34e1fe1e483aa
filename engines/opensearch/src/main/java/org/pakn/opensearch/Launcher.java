package org.pakn.opensearch;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts an OpenSearch cluster of N nodes in this JVM, on free loopback ports, for tests and benchmarks.
 *
 * <pre>
 * java -Xms512m -Xmx512m -jar target/pakn-opensearch.jar [--nodes N] [--dir PATH] [--cluster NAME]
 * </pre>
 *
 * Standard output is machine-readable: once the cluster has all N nodes and is at least yellow, one line
 * per node with its HTTP address ({@code http://127.0.0.1:PORT}), then the line {@code READY}. Standard
 * input takes commands, one a line, each answered on standard output:
 * {@code stop I} (close node I, 0-based: {@code STOPPED I}), {@code start I} (start it again on the same
 * ports and data: {@code STARTED I http://...}); a failed command answers {@code ERROR message}.
 * Closing standard input, SIGTERM or SIGINT stops every node and removes a data folder the launcher
 * created itself. Logs (warnings and worse) go to standard error.
 */
public final class Launcher {

    /** The modules the engine uses: HTTP and node-to-node transport, and the common analysis chain
     *  (asciifolding, shingle, custom analyzers and normalizers). */
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);

    private static final String LOG_CONFIG = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.target = SYSTEM_ERR",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
            "rootLogger.level = warn",
            "rootLogger.appenderRef.console.ref = console",
            "");

    /** A node class that exposes the constructor taking plugin classes from the classpath
     *  (a distribution loads them from its modules/ folder instead). */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private final String clusterName;
    private final Path base;
    private final boolean ownBase;
    private final int[] httpPorts;
    private final int[] transportPorts;
    private final Node[] nodes;
    private final PrintStream out;
    private boolean closed;

    private Launcher(String clusterName, Path base, boolean ownBase, int count) throws IOException {
        this.clusterName = clusterName;
        this.base = base;
        this.ownBase = ownBase;
        this.httpPorts = new int[count];
        this.transportPorts = new int[count];
        this.nodes = new Node[count];
        this.out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        List<ServerSocket> held = new ArrayList<>();
        try {  // hold every probe socket until all ports are chosen, so no two nodes get the same one
            for (int i = 0; i < count; i++) {
                httpPorts[i] = freePort(held);
                transportPorts[i] = freePort(held);
            }
        } finally {
            for (ServerSocket socket : held) {
                socket.close();
            }
        }
    }

    private static int freePort(List<ServerSocket> held) throws IOException {
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        held.add(socket);
        return socket.getLocalPort();
    }

    private String nodeName(int i) {
        return "node-" + i;
    }

    private String httpAddress(int i) {
        return "http://127.0.0.1:" + httpPorts[i];
    }

    private Environment environment(int i) throws IOException {
        Path home = base.resolve(nodeName(i));
        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Files.createDirectories(home.resolve("plugins"));
        Files.createDirectories(home.resolve("modules"));
        Files.writeString(config.resolve("log4j2.properties"), LOG_CONFIG, StandardCharsets.UTF_8);
        Settings.Builder settings = Settings.builder()
                .put("cluster.name", clusterName)
                .put("node.name", nodeName(i))
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", httpPorts[i])
                .put("transport.port", transportPorts[i])
                // A test machine's temp disk may be nearly full: never refuse to place a shard for it.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                // Node.start() must not block waiting for a cluster-manager that the next nodes elect.
                .put("discovery.initial_state_timeout", "0s");
        if (nodes.length == 1) {
            settings.put("discovery.type", "single-node");
        } else {
            List<String> seeds = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int j = 0; j < nodes.length; j++) {
                seeds.add("127.0.0.1:" + transportPorts[j]);
                names.add(nodeName(j));
            }
            settings.putList("discovery.seed_hosts", seeds);
            settings.putList("cluster.initial_cluster_manager_nodes", names);
        }
        return InternalSettingsPreparer.prepareEnvironment(settings.build(), Map.of(), config, () -> nodeName(i));
    }

    private synchronized void startNode(int i) throws Exception {
        if (nodes[i] != null) {
            throw new IllegalStateException("node " + i + " is running");
        }
        Node node = new ClasspathNode(environment(i), PLUGINS);
        node.start();
        nodes[i] = node;
    }

    private synchronized void stopNode(int i) throws IOException, InterruptedException {
        Node node = nodes[i];
        if (node == null) {
            throw new IllegalStateException("node " + i + " is not running");
        }
        nodes[i] = null;
        node.close();
        if (!node.awaitClose(30, TimeUnit.SECONDS)) {
            System.err.println("node " + i + " did not close within 30 s");
        }
    }

    private Node anyRunning() {
        synchronized (this) {
            for (Node node : nodes) {
                if (node != null) {
                    return node;
                }
            }
        }
        throw new IllegalStateException("no node is running");
    }

    /** Waits until every node has joined and the cluster is at least yellow. */
    private void awaitCluster(TimeValue timeout) {
        ClusterHealthResponse health = anyRunning().client().admin().cluster().prepareHealth()
                .setWaitForNodes(Integer.toString(nodes.length))
                .setWaitForYellowStatus()
                .setTimeout(timeout)
                .get();
        if (health.isTimedOut()) {
            throw new IllegalStateException("cluster not formed within " + timeout + ": " + health);
        }
    }

    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = nodes.length - 1; i >= 0; i--) {
            if (nodes[i] != null) {
                try {
                    stopNode(i);
                } catch (Exception e) {
                    System.err.println("stopping node " + i + ": " + e);
                }
            }
        }
        if (ownBase) {
            try (Stream<Path> walk = Files.walk(base)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                System.err.println("removing " + base + ": " + e);
            }
        }
    }

    private void serve() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split("\\s+");
            if (words.length == 0 || words[0].isEmpty()) {
                continue;
            }
            try {
                int i = words.length > 1 ? Integer.parseInt(words[1]) : -1;
                switch (words[0]) {
                    case "stop" -> {
                        stopNode(i);
                        out.println("STOPPED " + i);
                    }
                    case "start" -> {
                        startNode(i);
                        out.println("STARTED " + i + " " + httpAddress(i));
                    }
                    default -> out.println("ERROR unknown command: " + line);
                }
            } catch (Exception e) {
                out.println("ERROR " + String.valueOf(e).replace('\n', ' '));
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int count = 1;
        String dir = null;
        String cluster = "pakn-test";
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--nodes" -> count = Integer.parseInt(args[++a]);
                case "--dir" -> dir = args[++a];
                case "--cluster" -> cluster = args[++a];
                default -> {
                    System.err.println("usage: java -jar pakn-opensearch.jar [--nodes N] [--dir PATH] [--cluster NAME]");
                    System.exit(2);
                }
            }
        }
        if (count < 1) {
            throw new IllegalArgumentException("--nodes must be at least 1");
        }
        // Several nodes share this JVM: Netty's processor count may be set only once per process.
        System.setProperty("opensearch.set.netty.runtime.available.processors", "false");
        Path base = dir == null ? Files.createTempDirectory("pakn-opensearch-") : Paths.get(dir).toAbsolutePath();
        Launcher launcher = new Launcher(cluster, base, dir == null, count);
        Runtime.getRuntime().addShutdownHook(new Thread(launcher::close, "pakn-opensearch-shutdown"));

        LogConfigurator.registerErrorListener();
        LogConfigurator.configure(launcher.environment(0));
        try {
            for (int i = 0; i < count; i++) {
                launcher.startNode(i);
            }
            launcher.awaitCluster(TimeValue.timeValueSeconds(120));
        } catch (Exception e) {
            System.err.println("OpenSearch did not start: " + e);
            e.printStackTrace();
            launcher.close();
            System.exit(1);
        }
        for (int i = 0; i < count; i++) {
            launcher.out.println(launcher.httpAddress(i));
        }
        launcher.out.println("READY");
        launcher.serve();  // until standard input closes
        launcher.close();
        System.exit(0);
    }
}
