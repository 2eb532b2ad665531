package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes test images as an OCI image layout directory, which skopeo reads as {@code oci:DIR:TAG}. */
public final class OciLayout {

  private OciLayout() {}

  public static Path write(Path directory, Map<String, TestImage> imagesByTag) throws IOException {
    Path blobs = Files.createDirectories(directory.resolve("blobs/sha256"));
    List<Object> manifests = new ArrayList<>();
    for (Map.Entry<String, TestImage> entry : imagesByTag.entrySet()) {
      for (TestImage.Blob blob : entry.getValue().allContent()) {
        Files.write(blobs.resolve(blob.digest().hex()), blob.bytes());
      }
      TestImage.Blob manifest = entry.getValue().manifest();
      Map<String, Object> descriptor = new LinkedHashMap<>();
      descriptor.put("mediaType", manifest.mediaType());
      descriptor.put("digest", manifest.digest().toString());
      descriptor.put("size", manifest.bytes().length);
      descriptor.put("annotations", Map.of("org.opencontainers.image.ref.name", entry.getKey()));
      manifests.add(descriptor);
    }
    Files.write(directory.resolve("index.json"), TestImage.json(Map.of("schemaVersion", 2, "manifests", manifests)));
    Files.writeString(directory.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    return directory;
  }
}
