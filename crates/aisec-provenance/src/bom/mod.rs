//! AI bills of materials: CycloneDX 1.6 and SPDX 3.0.
