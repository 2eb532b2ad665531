package io.cistern.admin;

import ch.qos.logback.classic.pattern.Abbreviator;
import ch.qos.logback.classic.pattern.TargetLengthBasedClassNameAbbreviator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.encoder.EncoderBase;
import ch.qos.logback.core.util.CachingDateFormatter;
import java.nio.charset.StandardCharsets;

/**
 * Cistern's log line, {@code %d{yyyy-MM-dd'T'HH:mm:ss.SSSX} %-5level [%thread] %logger{20} - %msg%n}
 * and the stack trace of an exception, written out in code rather than by Logback's
 * {@code PatternLayout}: that one's class initializer loads every converter it knows (about 70, and
 * a lambda class for each) and its pattern parser, some 170 classes, into every start, for a
 * pattern that never changes. In UTF-8, as the access log.
 *
 * <p>Thread-safe: Logback encodes outside its appender's lock, on the logging threads, so this
 * keeps no state of its own; the date formatter and the abbreviator are thread-safe.
 */
final class LogLineEncoder extends EncoderBase<ILoggingEvent> {

  private final CachingDateFormatter time = new CachingDateFormatter("yyyy-MM-dd'T'HH:mm:ss.SSSX");
  private final Abbreviator loggerName = new TargetLengthBasedClassNameAbbreviator(20);

  @Override
  public byte[] encode(ILoggingEvent event) {
    StringBuilder line = new StringBuilder(128);
    line.append(time.format(event.getTimeStamp())).append(' ');
    String level = event.getLevel().toString();
    line.append(level).append(" ".repeat(Math.max(0, 5 - level.length())))
        .append(" [").append(event.getThreadName()).append("] ")
        .append(loggerName.abbreviate(event.getLoggerName())).append(" - ")
        .append(event.getFormattedMessage()).append(CoreConstants.LINE_SEPARATOR);
    IThrowableProxy thrown = event.getThrowableProxy();
    if (thrown != null) {
      line.append(ThrowableProxyUtil.asString(thrown));
    }
    return line.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public byte[] headerBytes() {
    return null;
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }
}
