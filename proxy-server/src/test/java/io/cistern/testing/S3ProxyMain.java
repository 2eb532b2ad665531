package io.cistern.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.io.OutputStream;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;

/**
 * The cluster bench's S3 server as a process of its own ({@code bench/bench.py --cluster}):
 * {@link S3Server} over {@code DIRECTORY}, listening on 127.0.0.1 at a port the kernel picks,
 * until its standard input closes or it is stopped. It prints one line the caller reads the port
 * and the bucket's credentials from:
 *
 * <pre>{@code
 * s3 listening on 127.0.0.1:PORT bucket=NAME accessKeyId=ID secretAccessKey=SECRET
 * }</pre>
 *
 * Run it with the tests' class path, which the build writes to
 * {@code proxy-server/target/test-classpath.txt}:
 * {@code java -cp proxy-server/target/test-classes:$(cat proxy-server/target/test-classpath.txt)
 * io.cistern.testing.S3ProxyMain DIRECTORY}.
 */
public final class S3ProxyMain {

  private S3ProxyMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: S3ProxyMain DIRECTORY");
      System.exit(2);
    }
    // Logback without a configuration logs everything at DEBUG: s3proxy's and Jetty's chatter
    // would bury the one line the caller reads.
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(Level.WARN);
    try (S3Server s3 = S3Server.start(Path.of(args[0]))) {
      System.out.printf("s3 listening on 127.0.0.1:%d bucket=%s accessKeyId=%s secretAccessKey=%s%n",
          s3.port(), S3Server.BUCKET, S3Server.ACCESS_KEY, S3Server.SECRET_KEY);
      System.out.flush();
      // Until the caller closes our standard input (or ends the process).
      System.in.transferTo(OutputStream.nullOutputStream());
    }
  }
}
