package io.cistern.oci;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The media types a client accepts for a manifest, from one or more {@code Accept} headers.
 * Parameters are dropped and {@code q=0} entries ignored; no header, or a wildcard, accepts
 * everything (what curl and old clients send).
 */
public record AcceptHeader(Set<String> mediaTypes, boolean acceptsAnything) {

  public static final AcceptHeader ANYTHING = new AcceptHeader(Set.of(), true);

  public AcceptHeader {
    mediaTypes = Set.copyOf(mediaTypes);
  }

  public static AcceptHeader parse(List<String> headerValues) {
    Set<String> types = new LinkedHashSet<>();
    boolean wildcard = false;
    for (String header : headerValues) {
      for (String entry : header.split(",")) {
        String[] parts = entry.split(";");
        String type = parts[0].trim().toLowerCase(Locale.ROOT);
        if (type.isEmpty() || hasZeroQuality(parts)) {
          continue;
        }
        if (type.equals("*/*") || type.equals("application/*")) {
          wildcard = true;
        } else {
          types.add(type);
        }
      }
    }
    return types.isEmpty() || wildcard ? new AcceptHeader(types, true) : new AcceptHeader(types, false);
  }

  public boolean accepts(String mediaType) {
    return acceptsAnything || mediaTypes.contains(mediaType);
  }

  private static boolean hasZeroQuality(String[] parts) {
    for (int i = 1; i < parts.length; i++) {
      String parameter = parts[i].trim();
      if (parameter.startsWith("q=")) {
        try {
          return Double.parseDouble(parameter.substring(2)) <= 0;
        } catch (NumberFormatException e) {
          return false;
        }
      }
    }
    return false;
  }
}
