package io.cistern.oci;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import java.io.IOException;

/**
 * jackson-core's streaming parser, for the documents a pull reads (manifests, token answers):
 * reading them token by token keeps Jackson's data binding (some 550 classes, ~0.2 s to load and
 * link) off the first pull after a start. {@link Json} is for what is written and for ops.
 */
public final class StreamingJson {

  /**
   * Thread-safe once built and never reconfigured (it is not handed out); its defaults are
   * {@link Json}'s: strict JSON, no comments, no NaN, no leading zeros.
   */
  private static final JsonFactory FACTORY = new JsonFactory();

  private StreamingJson() {}

  /** A parser over {@code json}, before its first token; the caller closes it. */
  public static JsonParser parser(byte[] json) throws IOException {
    return FACTORY.createParser(json);
  }
}
