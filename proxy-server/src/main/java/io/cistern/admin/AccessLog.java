package io.cistern.admin;

import io.cistern.http.RequestListener;
import io.cistern.http.ServedRequest;
import io.cistern.oci.Json;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;

/**
 * One line per answered request on the {@value #LOGGER} logger: time, client, user, method, URI,
 * status, body bytes, duration, cache hit or miss, upstream. As {@code key=value} pairs (values
 * quoted when they need it) or as one JSON object per line, for log pipelines that parse JSON.
 * Its level is its switch: at {@code OFF} no line is even formatted.
 */
public final class AccessLog implements RequestListener {

  public static final String LOGGER = "cistern.access";

  /** How each line is written. */
  public enum Format {
    TEXT, JSON;

    public static Format parse(String text) {
      try {
        return valueOf(text.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("log.access.format must be text or json, not '" + text + "'", e);
      }
    }
  }

  private final Logger logger;
  private final Format format;

  public AccessLog(Logger logger, Format format) {
    this.logger = logger;
    this.format = format;
  }

  @Override
  public void served(ServedRequest request) {
    if (!logger.isInfoEnabled()) {
      return;
    }
    Map<String, Object> fields = fields(request);
    logger.info(format == Format.JSON ? Json.string(fields) : text(fields));
  }

  private static Map<String, Object> fields(ServedRequest request) {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("time", request.time().toString());
    fields.put("remote", request.remote());
    fields.put("user", request.user());
    fields.put("method", request.method());
    fields.put("uri", request.uri());
    fields.put("status", request.status());
    fields.put("bytes", request.bytes());
    fields.put("duration_ms", Math.round(request.duration().toNanos() / 1000.0) / 1000.0);
    fields.put("cache", request.cache() == ServedRequest.Cache.NONE ? null : request.cache().name().toLowerCase(Locale.ROOT));
    fields.put("upstream", request.upstream());
    fields.put("complete", request.complete());
    return fields;
  }

  private static String text(Map<String, Object> fields) {
    StringBuilder line = new StringBuilder(160);
    for (Map.Entry<String, Object> field : fields.entrySet()) {
      if (line.length() > 0) {
        line.append(' ');
      }
      line.append(field.getKey()).append('=').append(textValue(field.getValue()));
    }
    return line.toString();
  }

  /**
   * {@code -} for nothing; quoted and escaped (as JSON strings are) when a space, quote, backslash
   * or control character could make the line misread. An {@code =} needs no quotes: readers split
   * a pair at its first one.
   */
  private static String textValue(Object value) {
    if (value == null) {
      return "-";
    }
    String text = value.toString();
    boolean plain = !text.isEmpty() && text.chars().allMatch(c -> c > ' ' && c < 0x7f && c != '"' && c != '\\');
    return plain ? text : Json.string(text);
  }
}
