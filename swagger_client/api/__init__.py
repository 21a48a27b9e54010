from __future__ import absolute_import

# flake8: noqa

# import apis into api package
from swagger_client.api.advise_api import AdviseApi
from swagger_client.api.container_images_api import ContainerImagesApi
from swagger_client.api.provenance_api import ProvenanceApi
from swagger_client.api.python_packages_api import PythonPackagesApi
from swagger_client.api.service_api import ServiceApi
