# Sourced by the device scripts (gpu_table.sh, mpi_device.sh), copied beside them by their
# pack scripts: installs the Vulkan loader and libglvnd from the packed .debs in $1 where the
# image lacks them (the NVIDIA ICD, libGLX_nvidia, needs libGLdispatch; the image has the
# driver but maybe not these), and points VK_DRIVER_FILES at the NVIDIA ICD when unset.
if ! ldconfig -p | grep -q libvulkan.so.1 || ! ldconfig -p | grep -q libGLdispatch.so.0; then
  for f in "$1"/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
  done
fi
