package io.cistern.upstream;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.cistern.oci.StreamingJson;
import java.io.IOException;

/**
 * The fields Cistern reads from a token server's JSON answer, read leniently as the token spec's
 * servers differ: {@code token} (or the OAuth2 {@code access_token}) as a string, a number or
 * boolean as written, anything else as absent; {@code expires_in} as a number or numeric string,
 * truncated to whole seconds, anything else (or out of range) as 0. Only a body that is not JSON
 * is an error.
 *
 * @param token the token, empty if the answer has none
 * @param expiresInSeconds the lifetime the server gave, 0 if none
 */
record TokenAnswer(String token, long expiresInSeconds) {

  static TokenAnswer read(byte[] body) throws IOException {
    String token = "";
    String accessToken = "";
    long expiresIn = 0;
    try (JsonParser parser = StreamingJson.parser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        parser.skipChildren(); // a JSON answer of another shape holds no token; malformed JSON still fails here
        return new TokenAnswer("", 0);
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        parser.nextToken();
        switch (field) {
          case "token" -> token = text(parser);
          case "access_token" -> accessToken = text(parser);
          case "expires_in" -> expiresIn = seconds(parser);
          default -> parser.skipChildren();
        }
      }
    }
    return new TokenAnswer(token.isEmpty() ? accessToken : token, expiresIn);
  }

  private static String text(JsonParser parser) throws IOException {
    String text = parser.getValueAsString("");
    parser.skipChildren();
    return text;
  }

  private static long seconds(JsonParser parser) throws IOException {
    double seconds = switch (parser.currentToken()) {
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> parser.getDoubleValue();
      case VALUE_STRING -> number(parser.getText());
      default -> {
        parser.skipChildren();
        yield 0;
      }
    };
    // NaN fails both comparisons.
    return seconds >= Long.MIN_VALUE && seconds < Long.MAX_VALUE ? (long) seconds : 0;
  }

  private static double number(String text) {
    try {
      return Double.parseDouble(text.trim());
    } catch (NumberFormatException notANumber) {
      return 0;
    }
  }
}
